import { discordEndToEnd } from './discord-suite.js';

discordEndToEnd('redis');
