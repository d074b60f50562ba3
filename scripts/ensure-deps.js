#!/usr/bin/env node
// Runs `npm ci` when node_modules is missing or older than package-lock.json, so `npm test` and
// `npm run demo` work on a fresh clone. Plain Node (no dependencies): it runs before they exist.
'use strict';
const { existsSync, statSync } = require('node:fs');
const { execSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  console.log('Installing dependencies (npm ci)…');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}

// The dashboards' end-to-end tests drive Debian's Chromium (playwright-core never downloads a browser). On a clean
// Debian machine run as root, install it from Debian's archive; anywhere else say what is missing.
const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
if (process.platform === 'linux' && !existsSync(chromium)) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log(
      `Chromium not found at ${chromium}: installing Debian's chromium package (apt-get) for the dashboard tests…`,
    );
    execSync('apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium', {
      stdio: 'inherit',
      shell: '/bin/sh',
    });
  } else {
    console.warn(
      `Chromium not found at ${chromium}; the dashboard tests will fail. Install it (Debian: sudo apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  }
}

// Periodic reports (src/reports): the PDFs embed a font with Chinese glyphs (Debian fonts-wqy-microhei), and their
// tests read the PDFs back with Debian's poppler-utils (pdftotext, pdftoppm, pdffonts). Installed the same way.
const reportPackages = [
  ['/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', 'fonts-wqy-microhei'],
  ['/usr/bin/pdftotext', 'poppler-utils'],
].filter(([path]) => !existsSync(path));
if (process.platform === 'linux' && reportPackages.length > 0) {
  const names = reportPackages.map(([, name]) => name).join(' ');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log(`Installing Debian's ${names} (apt-get) for the periodic reports and their tests…`);
    execSync(`apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${names}`, {
      stdio: 'inherit',
      shell: '/bin/sh',
    });
  } else {
    console.warn(
      `Missing ${names}: report PDFs cannot be rendered and their tests will fail. Install them (Debian: sudo apt-get install ${names}).`,
    );
  }
}
