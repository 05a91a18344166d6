import { stemsLinkEndToEnd } from './stems-link-suite.js';

stemsLinkEndToEnd('embedded', { tenMinutes: true });
