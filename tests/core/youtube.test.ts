import { describe, expect, it } from 'vitest';
import { parseYouTubeUrl, type YouTubeRefusalCode } from '../../core/youtube.js';

const ID = 'dQw4w9WgXcQ';

describe('parseYouTubeUrl', () => {
  it.each<[string, number | undefined]>([
    [`https://www.youtube.com/watch?v=${ID}`, undefined],
    [`http://www.youtube.com/watch?v=${ID}`, undefined],
    [`https://youtube.com/watch?v=${ID}`, undefined],
    [`youtube.com/watch?v=${ID}`, undefined],
    [`www.youtube.com/watch?v=${ID}`, undefined],
    [`youtu.be/${ID}`, undefined],
    [`https://youtu.be/${ID}`, undefined],
    [`https://youtu.be/${ID}/`, undefined],
    [`HTTPS://WWW.YOUTUBE.COM/watch?v=${ID}`, undefined],
    [`https://www.youtube.com./watch?v=${ID}`, undefined],
    [`//www.youtube.com/watch?v=${ID}`, undefined],
    [`https://www.youtube.com/watch?feature=share&v=${ID}&t=43s`, 43],
    [`https://youtu.be/${ID}?si=abc&t=1m2s`, 62],
    [`https://youtu.be/${ID}?t=90`, 90],
    [`https://www.youtube.com/watch?v=${ID}&t=1h2m3s`, 3723],
    [`https://www.youtube.com/watch?v=${ID}&t=0s`, undefined],
    [`https://www.youtube.com/watch?v=${ID}&t=soon`, undefined],
    [`https://www.youtube.com/watch?v=${ID}#t=90`, 90],
    [`https://www.youtube.com/watch?v=${ID}#t=2m`, 120],
    [`<https://youtu.be/${ID}>`, undefined],
    [`  <https://youtu.be/${ID}?t=5>  `, 5],
    [`<https://www.youtube.com/watch?v=${ID}|youtube.com/watch?v=${ID}>`, undefined],
    [`https://m.youtube.com/watch?v=${ID}&list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI&index=3`, undefined],
    [`https://music.youtube.com/watch?v=${ID}&si=x`, undefined],
    [`https://gaming.youtube.com/watch?v=${ID}`, undefined],
    [`https://www.youtube.com/watch?v=${ID}&ab_channel=RickAstley&pp=ygUEcmljaw%3D%3D`, undefined],
    [`https://www.youtube-nocookie.com/embed/${ID}?start=10`, 10],
    [`https://www.youtube.com/embed/${ID}`, undefined],
    [`https://www.youtube.com/v/${ID}`, undefined],
    [`https://www.youtube.com/shorts/${ID}?feature=share`, undefined],
    [`https://youtube.com/live/${ID}?si=x`, undefined],
    [`https://www.youtube.com:443/watch?v=${ID}`, undefined],
    [`youtube.com:443/watch?v=${ID}`, undefined],
  ])('accepts %s', (text, startSeconds) => {
    const expected = startSeconds === undefined ? { ok: true, videoId: ID } : { ok: true, videoId: ID, startSeconds };
    expect(parseYouTubeUrl(text)).toStrictEqual(expected);
  });

  it.each<[string, YouTubeRefusalCode]>([
    ['', 'empty'],
    ['   ', 'empty'],
    ['<>', 'empty'],
    ['hello', 'not_a_link'],
    ['please split this song', 'not_a_link'],
    [`check this https://youtu.be/${ID}`, 'not_a_link'],
    [ID, 'not_a_link'],
    ["javascript:alert('youtube.com')", 'not_a_link'],
    [`ftp://youtube.com/watch?v=${ID}`, 'not_a_link'],
    ['mailto:someone@youtube.com', 'not_a_link'],
    ['https://', 'not_a_link'],
    [`https://vimeo.com/76979871`, 'not_youtube'],
    [`https://youtube.com.evil.example/watch?v=${ID}`, 'not_youtube'],
    [`https://evil.example/?v=${ID}`, 'not_youtube'],
    [`https://notyoutube.com/watch?v=${ID}`, 'not_youtube'],
    [`https://youtube.co/watch?v=${ID}`, 'not_youtube'],
    [`https://youtube.com@evil.example/watch?v=${ID}`, 'not_youtube'],
    [`https://user@youtube.com/watch?v=${ID}`, 'not_youtube'],
    [`https://www.youtube.com/playlist?list=PLxyz`, 'playlist_without_video'],
    [`https://www.youtube.com/watch?list=PLxyz`, 'playlist_without_video'],
    [`https://www.youtube.com/embed/videoseries?list=PLxyz`, 'playlist_without_video'],
    [`https://www.youtube.com/@RickAstleyYT`, 'channel_page'],
    [`https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw`, 'channel_page'],
    [`https://www.youtube.com/c/RickAstley`, 'channel_page'],
    [`https://www.youtube.com/user/RickAstleyVEVO/videos`, 'channel_page'],
    [`https://www.youtube.com/results?search_query=rick`, 'search_page'],
    [`https://www.youtube.com/watch?v=dQw4w9WgXc`, 'malformed_video_id'],
    [`https://www.youtube.com/watch?v=dQw4w9WgXcQQ`, 'malformed_video_id'],
    [`https://www.youtube.com/watch?v=dQw4w9WgX!Q`, 'malformed_video_id'],
    [`https://www.youtube.com/watch?v=`, 'malformed_video_id'],
    [`https://youtu.be/dQw4w9WgXc`, 'malformed_video_id'],
    [`https://youtu.be/`, 'malformed_video_id'],
    [`https://www.youtube.com/shorts/`, 'malformed_video_id'],
    [`https://www.youtube.com/`, 'no_video'],
    [`https://www.youtube.com/feed/subscriptions`, 'no_video'],
    [`https://www.youtube.com/watch`, 'no_video'],
  ])('refuses %s with %s', (text, code) => {
    const result = parseYouTubeUrl(text);
    expect(result).toMatchObject({ ok: false, code });
    // One chat sentence: capitalised, a single closing full stop, no line breaks.
    expect(result.ok ? '' : result.message).toMatch(/^[A-Z][^\n]*[^.]\.$/);
  });
});
