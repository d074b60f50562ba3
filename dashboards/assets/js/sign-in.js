// The sign-in: the typed key is checked against GET /api/v1/session and, if the API accepts it, kept in this tab's
// sessionStorage only. Pages never embed a key; a page opened without one comes back here.
import { ApiError, apiFetch, byId, storeKey } from './common.js';

const PAGES = ['fleet.html', 'performance.html', 'drift.html', 'vigilance.html', 'reports.html'];
const REASONS = {
  expired: 'Your key was no longer accepted. Please sign in again.',
  'signed-out': 'You are signed out.',
};

const parameters = new URLSearchParams(location.search);
// Only a page of this site: `next` never sends the user elsewhere.
const next = PAGES.includes(parameters.get('next')) ? parameters.get('next') : 'fleet.html';
const message = byId('sign-in-message');
const reason = parameters.get('reason');
if (reason && REASONS[reason]) message.textContent = REASONS[reason];

byId('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = byId('api-key');
  const key = input.value.trim();
  const button = event.target.querySelector('button');
  button.disabled = true;
  message.className = 'notice';
  message.textContent = 'Checking your key…';
  try {
    const session = await (await apiFetch('/session', {}, { key })).json();
    storeKey(key);
    message.textContent = `Signed in (${session.role}).`;
    location.assign(`./${next}`);
  } catch (error) {
    message.className = 'notice error';
    message.textContent =
      error instanceof ApiError && error.status === 401
        ? 'This key was not accepted. Check that you typed it completely and that it has not been revoked.'
        : `Could not check the key: ${error instanceof Error ? error.message : String(error)}`;
    input.focus();
  } finally {
    button.disabled = false;
  }
});
