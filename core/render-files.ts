/**
 * What a render folder (`separations/<id>/renders/<format>-<stems>/`) holds beside the files a
 * request gets: the worker writes these, the chat adapters and the stems page read them.
 */
/** One labelled waveform lane per file: the picture posted with the result. */
export const WAVEFORM_PICTURE = 'waveforms.png';
/** Waveform peaks by stem name, which the stems page draws. */
export const WAVEFORM_PEAKS = 'peaks.json';
