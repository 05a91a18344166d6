/** A rendered stem ready to upload: its file name, where it lies, and its size. */
export interface DeliverableFile {
  name: string;
  path: string;
  bytes: number;
}

/**
 * Why a stem does not go along with the result: over the per-file limit in a lossy format (it was
 * already encoded at the bitrate that should fit, so nothing we offer would), over it in a lossless
 * one (mp3 or opus would fit), or past the number of files one message holds.
 */
export type LeftOutReason = 'too_big_lossy' | 'too_big_lossless' | 'too_many_files';

export interface AttachmentPlan {
  attach: DeliverableFile[];
  leftOut: { file: DeliverableFile; reason: LeftOutReason }[];
  /** The per-file limit the plan was made for, for the renderer to name. */
  limitBytes: number;
  /** The most files one message holds on this platform. */
  maxFiles: number;
}

/** Formats encoded at a bitrate chosen to fit the limit; the others cannot shrink. */
const LOSSY = /\.(mp3|opus)$/;

/** Attach what fits under the per-file limit, at most `maxFiles`, in the order given; say why not for the rest. */
export function planAttachments(files: DeliverableFile[], limits: { limitBytes: number; maxFiles: number }): AttachmentPlan {
  const attach = files.filter((file) => file.bytes <= limits.limitBytes).slice(0, limits.maxFiles);
  const leftOut = files
    .filter((file) => !attach.includes(file))
    .map((file) => ({ file, reason: file.bytes <= limits.limitBytes ? ('too_many_files' as const) : LOSSY.test(file.name) ? ('too_big_lossy' as const) : ('too_big_lossless' as const) }));
  return { attach, leftOut, ...limits };
}
