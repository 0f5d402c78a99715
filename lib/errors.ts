/**
 * One error hierarchy for peftlab. Every message says what failed, where, expected vs got, and how to fix it.
 */

/** Structured detail carried by every peftlab error, so tools can render it without parsing the message. */
export interface ErrorDetail {
  /** Where it failed: a field, key, module path, file or file:offset. */
  where?: string;
  /** What was expected. */
  expected?: string;
  /** What was found instead. */
  got?: string;
  /** How to fix it. */
  fix?: string;
}

/** Base class of every error peftlab throws on purpose. */
export class PeftlabError extends Error {
  readonly where?: string;
  readonly expected?: string;
  readonly got?: string;
  readonly fix?: string;

  constructor(what: string, detail: ErrorDetail = {}) {
    super(formatMessage(what, detail));
    this.name = new.target.name;
    this.where = detail.where;
    this.expected = detail.expected;
    this.got = detail.got;
    this.fix = detail.fix;
  }
}

/** A configuration value is missing, of the wrong type, or out of range. */
export class ConfigError extends PeftlabError {}
/** A tensor or array has the wrong shape or dtype. */
export class ShapeError extends PeftlabError {}
/** A checkpoint, adapter or weights file is malformed or does not match the model. */
export class CheckpointError extends PeftlabError {}
/** An image, label, manifest row or split is invalid. */
export class DataError extends PeftlabError {}
/** A tfjs backend could not be chosen, loaded or used. */
export class BackendError extends PeftlabError {}
/** Training cannot continue (a NaN/Inf loss, a checkpoint that does not match the run). */
export class TrainingError extends PeftlabError {}

function formatMessage(what: string, d: ErrorDetail): string {
  const parts = [what];
  if (d.where !== undefined) parts.push(`at ${d.where}`);
  if (d.expected !== undefined || d.got !== undefined) {
    parts.push(`expected ${d.expected ?? "?"}, got ${d.got ?? "?"}`);
  }
  let msg = parts.join("; ");
  if (d.fix !== undefined) msg += `. Fix: ${d.fix}`;
  return msg;
}
