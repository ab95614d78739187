// HTTP body forms of an OSP document: text/plain or XML as is, or the first part of multipart/signed (S/MIME).

/**
 * Returns the OSP document inside an HTTP body. For `multipart/signed` (RFC 1847) the signed first part's
 * body is returned; the detached signature part is not checked here.
 */
export function unwrapOspBody(body: Buffer, contentType: string): Buffer {
  const type = contentType.toLowerCase();
  if (!type.startsWith("multipart/signed")) return body;
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m) throw new Error("multipart/signed without boundary");
  const delimiter = Buffer.from(`--${m[1]}`);
  const first = body.indexOf(delimiter);
  if (first < 0) throw new Error("multipart/signed: boundary not found");
  const partStart = first + delimiter.length;
  const second = body.indexOf(delimiter, partStart);
  if (second < 0) throw new Error("multipart/signed: second part missing");
  const part = body.subarray(partStart, second);
  // Skip the part's own headers (up to the blank line); drop the CRLF before the next delimiter.
  const headerEnd = part.indexOf("\r\n\r\n");
  const content = headerEnd >= 0 ? part.subarray(headerEnd + 4) : part.subarray(part.indexOf("\n\n") + 2);
  return content.subarray(0, content.length - (content.subarray(-2).toString() === "\r\n" ? 2 : 0));
}
