// Labels each data cell with its column's heading, so that tables stacked on a phone
// (app.css) still say what each value is. Without JavaScript the tables stack unlabelled.
document.querySelectorAll("main table").forEach(function (table) {
  var rows = Array.prototype.slice.call(table.rows);
  var head = rows.find(function (row) {
    return row.cells.length > 1 && Array.prototype.every.call(row.cells, function (c) { return c.tagName === "TH"; });
  });
  if (!head) { return; }
  if (!head.parentNode || head.parentNode.tagName !== "THEAD") { head.classList.add("labels"); }
  var names = Array.prototype.map.call(head.cells, function (c) { return c.textContent.trim(); });
  rows.forEach(function (row) {
    if (row === head) { return; }
    Array.prototype.forEach.call(row.cells, function (cell, i) {
      if (names[i] && !cell.hasAttribute("data-label") && cell.colSpan === 1) { cell.setAttribute("data-label", names[i]); }
    });
  });
});
