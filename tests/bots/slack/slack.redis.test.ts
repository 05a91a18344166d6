import { slackEndToEnd } from './slack-suite.js';

slackEndToEnd('redis', { everything: false });
