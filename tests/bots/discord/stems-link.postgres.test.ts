import { stemsLinkEndToEnd } from './stems-link-suite.js';

stemsLinkEndToEnd('postgres', { tenMinutes: false });
