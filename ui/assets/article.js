// « Lire l'article » (run by Gradio with `element` and `server`): the source sheet's button
// asks the server for the whole article (ui/article.py), shows it in the sheet with the cited
// sentence marked and scrolled into view; « Retour » shows the excerpt again.
let excerpt = null;
let from = null;
async function readArticle(button) {
  const body = document.querySelector('#ancre-sheet .ancre-sheet-body');
  if (!body) return;
  excerpt = body.innerHTML;
  from = button.dataset.doc + '\u0000' + button.dataset.chunk;
  const label = button.textContent;
  button.disabled = true;
  button.textContent = button.dataset.loading || label;
  let html = '';
  try {
    html = await server.read_article({
      doc: button.dataset.doc, chunk: button.dataset.chunk, sentence: button.dataset.sentence,
    });
  } catch (e) {
    button.disabled = false;
    button.textContent = label;
    return;
  }
  body.innerHTML = typeof html === 'string' ? html : '';
  const panel = body.closest('.ancre-sheet-panel');
  const mark = body.querySelector('#ancre-cited');
  if (panel) panel.scrollTop = 0;
  if (mark) mark.scrollIntoView({ block: 'center' });
  (body.querySelector('.ancre-article-title') || body.querySelector('.ancre-article-back'))
    ?.focus({ preventScroll: true });
}
function backToExcerpt() {
  const body = document.querySelector('#ancre-sheet .ancre-sheet-body');
  if (!body || excerpt === null) return;
  body.innerHTML = excerpt;
  excerpt = null;
  const again = [...body.querySelectorAll('.ancre-read')]
    .find((b) => b.dataset.doc + '\u0000' + b.dataset.chunk === from);
  (again || body.querySelector('.ancre-read'))?.focus();
}
document.addEventListener('click', (e) => {
  const target = e.target.closest ? e.target : e.target.parentElement;
  const read = target && target.closest('#ancre-sheet .ancre-read');
  if (read) { e.preventDefault(); readArticle(read); return; }
  if (target && target.closest('#ancre-sheet .ancre-article-back')) { e.preventDefault(); backToExcerpt(); }
});
