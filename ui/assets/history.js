// The conversations' list (run by Gradio with `element`, `trigger`, `watch`): a click opens
// one; the search box above it filters by title and questions, accents and case ignored.
const fold = (s) => (s || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
element.addEventListener('click', (e) => {
  const conv = e.target.closest('.ancre-conv');
  if (conv && conv.getAttribute('aria-current') !== 'true') trigger('open', { id: conv.dataset.id });
});
function query() {
  const box = document.querySelector('#ancre-history-search textarea, #ancre-history-search input');
  return box ? fold(box.value.trim()) : '';
}
function filter() {
  const q = query();
  let shown = 0;
  element.querySelectorAll('.ancre-history-group').forEach((group) => {
    let inGroup = 0;
    group.querySelectorAll('li').forEach((li) => {
      const hit = !q || fold(li.firstElementChild.dataset.text).includes(q);
      li.hidden = !hit;
      if (hit) inGroup += 1;
    });
    group.hidden = inGroup === 0;
    shown += inGroup;
  });
  const none = element.querySelector('.ancre-history-none');
  if (none) none.hidden = shown > 0;
}
document.addEventListener('input', (e) => {
  if (e.target.closest && e.target.closest('#ancre-history-search')) filter();
});
watch('value', filter);
