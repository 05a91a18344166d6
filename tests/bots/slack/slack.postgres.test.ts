import { slackEndToEnd } from './slack-suite.js';

slackEndToEnd('postgres', { everything: false });
