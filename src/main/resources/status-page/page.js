// Refreshes the server-rendered sections from /api/quota; the markup mirrors StatusPage.java.
(function () {
  var every = Number(document.body.getAttribute('data-refresh-ms')) || 3000;
  function esc(s) {
    return String(s == null ? '' : s).replace(/[<>&"']/g, function (c) {
      return {'<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function num(v) { return v == null ? '\u2013' : String(v); }
  function pct(v, hard) { return v == null ? 0 : Math.min(100, Math.round(100 * v / hard)); }
  function age(sec) {
    var s = Math.round(sec);
    return s < 120 ? s + ' s' : s < 7200 ? Math.floor(s / 60) + ' min'
      : Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min';
  }
  function clock(iso) { iso = String(iso == null ? '' : iso); return iso.length >= 19 ? iso.substring(11, 19) : iso; }
  function dd(t, v) { return '<dt>' + esc(t) + '</dt><dd>' + esc(v) + '</dd>'; }
  function limits(q) {
    if (q.limits) { return q.limits; }
    return q.enabled ? [{source: 'quota ' + q.quotaName, resource: q.resourceName, hard: q.hard, used: q.used,
      threshold: q.threshold, inFlight: q.inFlight, headroom: q.headroom}] : [];
  }
  function set(id, html) { document.getElementById(id).innerHTML = html; }
  function render(q) {
    var state = q.blocked ? 'blocked' : 'open';
    var gate = document.getElementById('gate');
    gate.className = 'card ' + state;
    gate.setAttribute('data-state', state);
    var detail = '';
    if (q.blocked && q.blockedSince) { detail += 'since ' + esc(q.blockedSince) + ' \u00b7 '; }
    if (!q.enabled) { detail += 'no quota configured: the consumer runs ungated \u00b7 '; }
    detail += 'consumer ' + esc(q.consumerState) + ' \u00b7 namespace ' + esc(q.namespace) + ' \u00b7 fail-mode ' + esc(q.failMode);
    set('gate', '<h2>Gate</h2><p class="state">' + state.toUpperCase()
      + (q.blocked && q.blockedReason ? ' \u00b7 ' + esc(q.blockedReason) : '') + '</p><p class="detail">' + detail + '</p>');

    var ls = limits(q), h = '<h2>Limits</h2>';
    if (!ls.length) { h += '<p class="muted">none</p>'; }
    ls.forEach(function (l) {
      var hard = l.hard || 0;
      h += '<div class="limit"><div class="name">' + esc(l.source) + ' \u00b7 ' + esc(l.resource) + '</div><div class="bar">';
      if (hard > 0) {
        h += '<div class="used" style="width:' + pct(l.used, hard) + '%"></div><div class="inflight" style="width:'
          + pct(l.inFlight, hard) + '%"></div><div class="threshold" style="left:' + pct(l.threshold, hard) + '%"></div>';
      }
      h += '</div><div class="nums">used ' + num(l.used) + ' + in flight ' + num(l.inFlight) + ' / threshold '
        + num(l.threshold) + ' / hard ' + num(l.hard) + ' \u00b7 headroom ' + num(l.headroom) + '</div></div>';
    });
    set('limits', h);

    var b = q.backlog || {}, r = b.streamRoom;
    set('backlog', '<h2>Backlog</h2><dl>' + dd('pending', num(b.pending)) + dd('ack pending', num(b.ackPending))
      + dd('oldest waiting', b.oldestAgeSeconds == null ? '\u2013' : age(b.oldestAgeSeconds))
      + dd('admissible now', num(b.admissible))
      + dd('stream room', r == null ? '\u2013' : r.ratio == null ? 'no limits'
        : Math.round(r.ratio * 100) + ' %' + (r.low ? ' (low)' : ''))
      + dd('time to first loss', b.timeToLossSeconds == null ? '\u2013' : age(b.timeToLossSeconds)) + '</dl>');

    h = '<h2>Recent gate transitions (UTC)</h2><table><tr><th>at</th><th>state</th><th>reason</th><th>used</th><th>held</th><th>threshold</th></tr>';
    (q.transitions || []).slice().reverse().forEach(function (t) {
      h += '<tr><td title="' + esc(t.at) + '">' + esc(clock(t.at)) + '</td><td>' + esc(t.state) + '</td><td>' + esc(t.reason) + '</td><td>' + num(t.used)
        + '</td><td>' + num(t.held) + '</td><td>' + num(t.threshold) + '</td></tr>';
    });
    set('transitions', h + '</table>');

    h = '<h2>Outcomes</h2><dl>';
    Object.keys(q.outcomes || {}).sort().forEach(function (k) { h += dd(k, String(q.outcomes[k])); });
    set('outcomes', h + '</dl>');

    h = '<h2>Errors now</h2><ul>';
    if (!(q.problems || []).length) { h += '<li class="muted">none</li>'; }
    (q.problems || []).forEach(function (p) { h += '<li><b>' + esc(p.source) + '</b> ' + esc(p.message) + '</li>'; });
    set('problems', h + '</ul>');
  }
  function refresh() {
    fetch('api/quota', {headers: {'Accept': 'application/json'}, cache: 'no-store'})
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
      .then(function (q) {
        render(q);
        document.getElementById('updated').firstChild.nodeValue = 'updated ' + new Date().toISOString() + ' ';
      })
      .catch(function (e) {
        document.getElementById('updated').firstChild.nodeValue = 'refresh failed (' + e.message + ') ';
      })
      .then(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
