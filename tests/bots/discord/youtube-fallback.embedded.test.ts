import { youtubeFallbackEndToEnd } from './youtube-fallback-suite.js';

youtubeFallbackEndToEnd('embedded');
