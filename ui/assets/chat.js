// The thread's behaviour (run by Gradio with `element`, `trigger`, `props`, `watch`):
// examples, Regenerate and Retry go to the server; chips and cards open the source sheet;
// Copy uses the clipboard; a new question scrolls into view; opened quotes stay open.
const texts = props.texts || {};

function sheet() {
  let s = document.getElementById('ancre-sheet');
  if (s) return s;
  s = document.createElement('div');
  s.id = 'ancre-sheet';
  s.className = 'ancre-sheet';
  s.hidden = true;
  s.setAttribute('role', 'dialog');
  s.setAttribute('aria-modal', 'true');
  s.innerHTML = '<div class="ancre-sheet-backdrop"></div><div class="ancre-sheet-panel">' +
    '<button type="button" class="ancre-sheet-close">×</button><div class="ancre-sheet-body"></div></div>';
  s.querySelector('.ancre-sheet-close').setAttribute('aria-label', texts.close || 'Close');
  s.addEventListener('click', (e) => {
    if (e.target.closest('.ancre-sheet-close') || e.target.classList.contains('ancre-sheet-backdrop')) close();
  });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !s.hidden) close(); });
  document.body.appendChild(s);
  return s;
}
let opener = null;
function close() {
  const s = sheet();
  s.hidden = true;
  if (opener) opener.focus();
}
function openSource(key, from) {
  const source = element.querySelector('#ancre-src-' + CSS.escape(key));
  if (!source) return;
  const s = sheet();
  s.querySelector('.ancre-sheet-body').innerHTML = source.outerHTML.replace(' id="ancre-src-', ' data-id="ancre-src-');
  s.setAttribute('aria-label', source.querySelector('.ancre-source-head')?.textContent || '');
  opener = from;
  s.hidden = false;
  s.querySelector('.ancre-sheet-panel').scrollTop = 0;
  s.querySelector('.ancre-sheet-close').focus();
}
function copy(button) {
  const text = button.dataset.copy || '';
  const done = () => {
    const label = button.textContent;
    button.textContent = button.dataset.done || label;
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => {});
  } else {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand('copy'); done(); } catch (e) { /* nothing to do */ }
    area.remove();
  }
}
element.addEventListener('click', (e) => {
  const example = e.target.closest('.ancre-example');
  if (example) { trigger('ask', { question: example.dataset.question }); return; }
  const src = e.target.closest('.ancre-chip, .ancre-card');
  if (src) { e.preventDefault(); openSource(src.dataset.src, src); return; }
  const copyButton = e.target.closest('.ancre-copy');
  if (copyButton) { copy(copyButton); return; }
  const regen = e.target.closest('.ancre-regen');
  if (regen) { regen.disabled = true; trigger('regenerate', { turn: Number(regen.dataset.turn) }); }
});

// opened quotes stay open when the thread is drawn again
const opened = new Set();
element.addEventListener('toggle', (e) => {
  const d = e.target;
  if (d.matches && d.matches('details[data-fold]')) {
    if (d.open) opened.add(d.dataset.fold); else opened.delete(d.dataset.fold);
  }
}, true);

// a finished answer is announced (the thread itself is redrawn whole, so it is not live)
function announcer() {
  let a = document.getElementById('ancre-announce');
  if (a) return a;
  a = document.createElement('div');
  a.id = 'ancre-announce';
  a.className = 'ancre-sr';
  a.setAttribute('role', 'status');
  a.setAttribute('aria-live', 'polite');
  document.body.appendChild(a);
  return a;
}
let answered = -1;
function announce(thread) {
  const done = thread.querySelectorAll('.ancre-turn .ancre-mode');
  if (answered >= 0 && done.length > answered) {
    const bot = done[done.length - 1].closest('.ancre-turn').querySelector('.ancre-bot');
    announcer().textContent = bot ? bot.innerText.split('\n')[0] : '';
  }
  answered = done.length;
}

// the sidebar's toggle: named in the page's language, and says whether it is open
function sidebarToggle() {
  const bar = document.querySelector('#ancre-sidebar');
  const button = bar && bar.querySelector('.toggle-button');
  if (!button) return;
  if ((props.texts || {}).sidebar) button.setAttribute('aria-label', props.texts.sidebar);
  button.setAttribute('aria-expanded', bar.classList.contains('open') ? 'true' : 'false');
  if (!bar.dataset.watched) {
    bar.dataset.watched = '1';
    new MutationObserver(sidebarToggle).observe(bar, { attributes: true, attributeFilter: ['class'] });
  }
}

// scrolling: a new question comes into view; a growing answer stays in view
let shown = -1;
function scroller() { return element.closest('#ancre-chat') || element; }
// a thread drawn before the newest one shown (a late update of a conversation left, or of
// an answer stopped) arrives last: the newest one is drawn again
let newest = 0;
let newestValue = null;
function late() {
  const drawn = Number((element.querySelector('.ancre-thread') || {}).dataset?.shown || 0);
  if (drawn && drawn < newest) return true;
  if (drawn) { newest = drawn; newestValue = props.value; }
  return false;
}
watch('value', () => {
  if (late()) { props.value = newestValue; return; }
  element.querySelectorAll('details[data-fold]').forEach((d) => { if (opened.has(d.dataset.fold)) d.open = true; });
  const thread = element.querySelector('.ancre-thread');
  sidebarToggle();
  if (!thread) return;
  announce(thread);
  const turns = Number(thread.dataset.turns || 0);
  const box = scroller();
  if (shown >= 0 && turns > shown) {
    const all = thread.querySelectorAll('.ancre-turn');
    const first = all[Math.min(shown, all.length - 1)];
    if (first) box.scrollTop += first.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
  } else if (shown < 0 || box.scrollHeight - box.scrollTop - box.clientHeight < 160) {
    box.scrollTop = box.scrollHeight;
  }
  shown = turns;
});

// the question box: a counter once the question nears the limit (nothing is cut)
const limit = Number(props.limit || 0);
function counter() {
  const area = document.querySelector('#ancre-question textarea');
  const hint = document.querySelector('#ancre-counter');
  if (!area || !hint || !limit) return;
  const n = area.value.trim().length;
  hint.textContent = n > limit * 0.8 ? n + ' / ' + limit : '';
  hint.classList.toggle('ancre-over', n > limit);
}
document.addEventListener('input', (e) => { if (e.target.closest && e.target.closest('#ancre-question')) counter(); });

// a chip's preview stays inside the conversation's box (shifted sideways, or shown below)
function place(chip) {
  const tip = chip.querySelector('.ancre-tip');
  if (!tip) return;
  tip.style.transform = '';
  tip.style.top = '';
  tip.style.bottom = '';
  const box = scroller().getBoundingClientRect();
  let r = tip.getBoundingClientRect();
  if (r.top < box.top + 4) {
    tip.style.bottom = 'auto';
    tip.style.top = 'calc(100% + 6px)';
    r = tip.getBoundingClientRect();
  }
  let shift = 0;
  if (r.left < box.left + 8) shift = box.left + 8 - r.left;
  else if (r.right > box.right - 8) shift = box.right - 8 - r.right;
  if (shift) tip.style.transform = 'translateX(calc(-50% + ' + shift + 'px))';
}
element.addEventListener('mouseover', (e) => { const c = e.target.closest('.ancre-chip'); if (c) place(c); });
element.addEventListener('focusin', (e) => { const c = e.target.closest('.ancre-chip'); if (c) place(c); });

// ---- the source sheet keeps the focus while open (Tab and Shift+Tab cycle inside it), and
// on closing gives it back to the chip or card that opened it, even when the thread was
// redrawn meanwhile (the element that opened it is then a new one with the same key)
let sheetOpener = null;
function sheetFocusables(s) {
  return [...s.querySelectorAll('button, a[href], summary, input, textarea, select, [tabindex]:not([tabindex="-1"])')]
    .filter((el) => !el.disabled && el.getClientRects().length);
}
function watchSheet() {
  const s = document.getElementById('ancre-sheet');
  if (!s || s.dataset.trapped) return;
  s.dataset.trapped = '1';
  new MutationObserver(() => {
    if (!s.hidden || !sheetOpener) return;
    const a = document.activeElement;
    if (a && a !== document.body && a.isConnected && !s.contains(a)) return;
    const again = element.querySelector('.' + sheetOpener.kind + '[data-src="' + CSS.escape(sheetOpener.key) + '"]');
    if (again) again.focus();
  }).observe(s, { attributes: true, attributeFilter: ['hidden'] });
}
element.addEventListener('click', (e) => {
  const src = e.target.closest('.ancre-chip, .ancre-card');
  if (!src) return;
  sheetOpener = { key: src.dataset.src, kind: src.classList.contains('ancre-chip') ? 'ancre-chip' : 'ancre-card' };
  setTimeout(watchSheet, 0);
}, true);
document.addEventListener('keydown', (e) => {
  const s = document.getElementById('ancre-sheet');
  if (e.key !== 'Tab' || !s || s.hidden) return;
  const items = sheetFocusables(s);
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  const inside = s.contains(document.activeElement);
  if (e.shiftKey && (!inside || document.activeElement === first)) { e.preventDefault(); last.focus(); }
  else if (!e.shiftKey && (!inside || document.activeElement === last)) { e.preventDefault(); first.focus(); }
}, true);
document.addEventListener('focusin', (e) => {
  const s = document.getElementById('ancre-sheet');
  if (s && !s.hidden && !s.contains(e.target)) sheetFocusables(s)[0]?.focus();
});
