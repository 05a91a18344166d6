/**
 * The stems page's HTML: a fixed shell. Nothing from the request (its title above all, which is
 * whatever a video's uploader typed) is ever written into it; the page's script reads data.json
 * and puts text in with textContent. URLs are relative to the page (`/s/<token>`), so the same
 * HTML works behind a PUBLIC_URL with a path.
 */

export interface AssetVersions {
  script: string;
  style: string;
}

function head(title: string, versions: AssetVersions, script: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/stems-page.css?v=${versions.style}">
${script ? `<script type="module" src="assets/stems-page.js?v=${versions.script}"></script>\n` : ''}</head>`;
}

export function stemsPageHtml(versions: AssetVersions): string {
  return `${head('Stems · stembot', versions, true)}
<body>
<main>
<header>
<h1 id="title">Stems</h1>
<p id="facts"></p>
</header>
<section class="transport" aria-label="Player">
<button id="play" type="button" class="play" disabled>Play</button>
<input id="seek" type="range" min="0" max="1" step="any" value="0" aria-label="Position" disabled>
<output id="clock" aria-live="off">0:00 / 0:00</output>
</section>
<p id="status" role="status">Loading…</p>
<ul id="stems" class="stems"></ul>
<p class="downloads"><a id="zip" class="button" download hidden>Download all (zip)</a></p>
<p id="expiry" class="expiry"></p>
<noscript><p>The mixer needs JavaScript.</p></noscript>
</main>
<template id="stem-row">
<li class="stem">
<span class="name"></span>
<div class="wave"><canvas height="56"></canvas></div>
<button type="button" class="mute" aria-pressed="false">M</button>
<button type="button" class="solo" aria-pressed="false">S</button>
<input type="range" class="volume" min="0" max="1" step="0.01" value="1">
<a class="button download" download>Download</a>
</li>
</template>
</body>
</html>
`;
}

const ERROR_TEXT = {
  404: { title: 'Link not found', text: 'This link is not valid, or the stems it pointed to have been deleted. Ask the bot again for a new link.' },
  410: { title: 'Link expired', text: 'This link has expired. Ask the bot again for a new link.' },
} as const;

export function errorPageHtml(status: keyof typeof ERROR_TEXT, versions: AssetVersions): string {
  const { title, text } = ERROR_TEXT[status];
  return `${head(`${title} · stembot`, versions, false)}
<body>
<main>
<h1>${title}</h1>
<p>${text}</p>
</main>
</body>
</html>
`;
}
