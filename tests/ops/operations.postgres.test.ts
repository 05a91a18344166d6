import { operationsEndToEnd } from './operations-suite.js';

operationsEndToEnd('postgres');
