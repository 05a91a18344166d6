import { previewEndToEnd } from './preview-suite.js';

previewEndToEnd('postgres', ['discord', 'slack']);
