// The element tree the XML reader builds and the OSP schema reads.
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  /** Concatenated character data directly inside the element (references decoded, trimmed). */
  text: string;
  children: XmlElement[];
}
