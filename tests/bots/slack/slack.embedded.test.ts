import { slackEndToEnd } from './slack-suite.js';

slackEndToEnd('embedded', { everything: true });
