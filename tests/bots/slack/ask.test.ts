import { describe, expect, it } from 'vitest';
import { parseSeparateText } from '../../../bots/slack/ask.js';
import { UserError } from '../../../core/errors.js';

const LINK = 'https://youtu.be/dQw4w9WgXcQ?t=42';

describe('what is typed after /separate', () => {
  it('reads the link, stems, format and preview:false in any order, the link as Slack sends it', () => {
    expect(parseSeparateText(`<${LINK}> karaoke flac preview:false`)).toEqual({ link: LINK, stems: 'karaoke', format: 'flac', preview: false });
    expect(parseSeparateText(`preview:FALSE ${LINK}`)).toEqual({ link: LINK, preview: false });
    expect(parseSeparateText(`${LINK} preview:no`)).toEqual({ link: LINK, preview: false });
    expect(parseSeparateText(`${LINK} preview:true`)).toEqual({ link: LINK, preview: true });
    expect(parseSeparateText(LINK)).toEqual({ link: LINK });
  });

  it('refuses a preview it cannot read, saying what it takes', () => {
    let refusal: unknown;
    try {
      parseSeparateText(`${LINK} preview:maybe`);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(UserError);
    expect((refusal as UserError).message).toContain('I don’t understand “preview:maybe”');
    expect((refusal as UserError).message).toContain('preview:false posts no preview first');
  });
});
