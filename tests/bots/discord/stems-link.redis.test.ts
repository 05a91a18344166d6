import { stemsLinkEndToEnd } from './stems-link-suite.js';

stemsLinkEndToEnd('redis', { tenMinutes: false });
