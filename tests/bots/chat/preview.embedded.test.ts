import { previewEndToEnd } from './preview-suite.js';

previewEndToEnd('embedded', ['discord', 'slack', 'edges']);
