
// ---- the conversation's own actions: edit a sent question, 👍 / 👎 with an
// optional correction, move between the versions of an answer (‹ n/total ›)
const versionShown = new Map();  // turn -> [version, of how many]
const fixOpen = new Set();
const editing = new Map();  // turn -> the text being edited (a redraw must not lose it)
const fixText = new Map();
function showVersion(turn, n) {
  const all = turn.querySelectorAll(':scope > .ancre-version');
  all.forEach((v) => { v.hidden = Number(v.dataset.version) !== n; });
  versionShown.set(turn.dataset.turn, [n, all.length]);
}
function editForm(button, open, restore = false) {
  const user = button.closest('.ancre-user');
  const form = user.querySelector('.ancre-edit-form');
  form.hidden = !open;
  user.querySelector('.ancre-bubble').hidden = open;
  user.querySelector('.ancre-edit').hidden = open;
  const area = form.querySelector('textarea');
  if (open) {
    if (editing.has(form.dataset.turn)) area.value = editing.get(form.dataset.turn);
    else editing.set(form.dataset.turn, area.value);
    if (!restore || lost()) area.focus();
  } else {
    editing.delete(form.dataset.turn);
    user.querySelector('.ancre-edit').focus();
  }
}
// a redraw of the thread drops the focus that was in it; elsewhere, the focus stays
const lost = () => !document.activeElement || document.activeElement === document.body;
element.addEventListener('input', (e) => {
  const form = e.target.closest && e.target.closest('.ancre-edit-form, .ancre-fix');
  if (!form) return;
  (form.matches('.ancre-fix') ? fixText : editing).set(form.dataset.turn, e.target.value);
});
element.addEventListener('click', (e) => {
  const edit = e.target.closest('.ancre-edit');
  if (edit) { editForm(edit, true); return; }
  const cancel = e.target.closest('.ancre-edit-cancel');
  if (cancel) { editForm(cancel, false); return; }
  const nav = e.target.closest('.ancre-version-prev, .ancre-version-next');
  if (nav) {
    const turn = nav.closest('.ancre-turn');
    showVersion(turn, Number(nav.dataset.to));
    const twin = turn.querySelector('.ancre-version:not([hidden]) .' + nav.classList[1] + ':not([disabled])')
      || turn.querySelector('.ancre-version:not([hidden]) .ancre-versions button:not([disabled])');
    if (twin) twin.focus();
    return;
  }
  const rate = e.target.closest('.ancre-rate');
  if (rate) {
    const turn = rate.dataset.turn;
    const pressed = rate.getAttribute('aria-pressed') === 'true';
    if (rate.dataset.rating === 'down' && !pressed) fixOpen.add(turn); else fixOpen.delete(turn);
    trigger('feedback', { turn: Number(turn), rating: pressed ? '' : rate.dataset.rating, comment: '' });
  }
});
element.addEventListener('submit', (e) => {
  const form = e.target;
  e.preventDefault();
  const text = form.querySelector('textarea').value;
  if (form.matches('.ancre-edit-form')) {
    editing.delete(form.dataset.turn);
    trigger('edit', { turn: Number(form.dataset.turn), question: text });
  } else if (form.matches('.ancre-fix')) {
    fixOpen.delete(form.dataset.turn);
    fixText.delete(form.dataset.turn);
    trigger('feedback', { turn: Number(form.dataset.turn), rating: 'down', comment: text });
  }
});
element.addEventListener('keydown', (e) => {
  const form = e.target.closest && e.target.closest('.ancre-edit-form, .ancre-fix');
  if (!form || e.target.tagName !== 'TEXTAREA') return;
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  if (e.key === 'Escape' && form.matches('.ancre-edit-form')) { e.stopPropagation(); editForm(form, false); }
});
watch('value', () => {
  element.querySelectorAll('.ancre-turn[data-versions]').forEach((turn) => {
    const kept = versionShown.get(turn.dataset.turn);
    if (kept && kept[1] === Number(turn.dataset.versions)) showVersion(turn, kept[0]);
  });
  fixOpen.forEach((turn) => {
    const form = element.querySelector('.ancre-fix[data-turn="' + turn + '"]');
    if (!form) return;
    form.hidden = false;
    const area = form.querySelector('textarea');
    if (fixText.has(turn)) area.value = fixText.get(turn);
    if (lost()) area.focus();
  });
  editing.forEach((text, turn) => {  // still being edited: open again, as it was
    const edit = element.querySelector('.ancre-turn[data-turn="' + turn + '"] '
      + '.ancre-version:not([hidden]) .ancre-edit, .ancre-turn[data-turn="' + turn + '"] > .ancre-user .ancre-edit');
    if (edit) editForm(edit, true, true); else editing.delete(turn);
  });
});

// the sidebar pushes the page by the room it takes, measured by Gradio when the page opens,
// before this page's style sheet moved the page: measured again once the style applies
requestAnimationFrame(() => window.dispatchEvent(new Event('resize')));
setTimeout(() => window.dispatchEvent(new Event('resize')), 500);
