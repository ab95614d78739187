// Reading a file named on the command line or in a config: a failure says which file and why in words
// ("cannot read calls.yaml: no such file"), not as a raw errno.
import { constants, accessSync, readFileSync, statSync } from "node:fs";

const REASONS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "a part of the path is not a directory",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "name too long",
  EMFILE: "too many open files",
};

/** The reason a file operation failed, in words (`no such file`), else the error's own message. */
export function fileErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && REASONS[code] !== undefined) return REASONS[code];
  return err instanceof Error ? err.message : String(err);
}

/** A file that could not be read: `cannot read PATH: REASON`. */
export class InputFileError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot read ${path}: ${reason}`);
    this.name = "InputFileError";
  }
}

/** Reads a whole file, throwing InputFileError with the reason in words. */
export function readInputFile(path: string): Buffer;
export function readInputFile(path: string, encoding: "utf8"): string;
export function readInputFile(path: string, encoding?: "utf8"): Buffer | string {
  try {
    return encoding ? readFileSync(path, encoding) : readFileSync(path);
  } catch (err) {
    throw new InputFileError(path, fileErrorReason(err));
  }
}

/** Throws InputFileError unless path is a regular file this process may read (nothing is opened or created). */
export function checkReadableFile(path: string): void {
  let isFile: boolean;
  try {
    accessSync(path, constants.R_OK);
    isFile = statSync(path).isFile();
  } catch (err) {
    throw new InputFileError(path, fileErrorReason(err));
  }
  if (!isFile) throw new InputFileError(path, "not a regular file");
}
