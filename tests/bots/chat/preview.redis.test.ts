import { previewEndToEnd } from './preview-suite.js';

previewEndToEnd('redis', ['discord', 'slack']);
