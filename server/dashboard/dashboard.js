// @ts-check
// Covey operator dashboard. Plain browser script (no bundler), loaded after uPlot.
// It holds no data until /api/status accepts the operator token; the token lives in sessionStorage.
/** @typedef {import('../status.js').FederationStatus} FederationStatus */
/** @typedef {import('../status.js').RoundStatus} RoundStatus */
/** @typedef {import('../status.js').MemberStatus} MemberStatus */
/** @typedef {import('../db.js').AbortedAttempt} AbortedAttempt */
/** @typedef {import('../../src/core/protocol/end.js').FederationEnd} FederationEnd */
/** @typedef {{ unauthorized: true } | { unauthorized?: undefined; status: FederationStatus }} StatusReply */
/** @typedef {import('uplot')} Chart */
/** @typedef {import('uplot').Series} Series */
/** @typedef {import('uplot').Axis} Axis */
/** @typedef {import('uplot').Range.Function} RangeFunction */
/** @typedef {import('uplot').AlignedData} ChartData */
(function () {
  'use strict';

  var TOKEN_KEY = 'covey.operatorToken';
  var POLL_MS = 2000;
  var MAX_ROWS = 500;
  var COLORS = { accuracy: '#2563eb', loss: '#d97706', epsilon: '#7c3aed', budget: '#dc2626' };

  /** @type {ReturnType<typeof setTimeout> | null} */
  var pollTimer = null;
  /** @type {Record<string, Chart>} */
  var charts = {};
  /** @type {string | null} */
  var lastRoundsKey = null;
  /** @type {FederationStatus | null} */
  var lastStatus = null;
  var lastOk = 0;
  /** Bumped on every sign-in and sign-out, so that a poll answered after a sign-out is dropped. */
  var generation = 0;

  /**
   * The page's element with this id; the page (index.html) has every id the script asks for,
   * except #dashboard, which exists only while signed in (see `dashboard()`).
   * @param {string} id
   * @returns {HTMLElement}
   */
  function $(id) {
    var el = document.getElementById(id);
    if (!el) throw new Error('the dashboard page has no #' + id);
    return el;
  }

  /** @param {string} id @returns {HTMLInputElement} */
  function input(id) {
    return /** @type {HTMLInputElement} */ ($(id));
  }

  /** The signed-in view, or null while signed out. */
  function dashboard() {
    return document.getElementById('dashboard');
  }

  /** @param {string} name @returns {HTMLElement} */
  function field(name) {
    var el = document.querySelector('[data-field="' + name + '"]');
    if (!(el instanceof HTMLElement)) throw new Error('the dashboard has no field ' + name);
    return el;
  }

  /** @param {string} name @returns {HTMLProgressElement} */
  function progress(name) {
    return /** @type {HTMLProgressElement} */ (field(name));
  }

  /** @param {HTMLElement} el @param {string} text */
  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  // ---- formatting ------------------------------------------------------------------------------

  var DASH = '–';
  /** What a connected member last said about being drawn (src/core/protocol/availability.ts). */
  var AVAILABILITY_WORDS = { available: 'can be drawn', paused: 'paused', 'out-of-budget': 'out of privacy budget' };

  /** @param {unknown} x @returns {x is number} */
  function isNum(x) {
    return typeof x === 'number' && isFinite(x);
  }

  /** @param {number | null | undefined} n */
  function fmtInt(n) {
    return isNum(n) ? Math.round(n).toLocaleString('en-US') : DASH;
  }

  /** @param {number | null | undefined} x */
  function fmtPercent(x) {
    return isNum(x) ? (x * 100).toFixed(2) + ' %' : DASH;
  }

  /** @param {number | null | undefined} x */
  function fmtLoss(x) {
    if (!isNum(x)) return DASH;
    return Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4);
  }

  /** @param {number | null | undefined} x */
  function fmtEpsilon(x) {
    if (!isNum(x)) return DASH;
    return x >= 100 ? x.toFixed(1) : x.toFixed(3);
  }

  /** @param {number | null | undefined} x */
  function fmtDelta(x) {
    if (!isNum(x)) return DASH;
    return x.toExponential(0).replace('e-', 'e−');
  }

  /** @param {number | null | undefined} seconds */
  function fmtDuration(seconds) {
    if (!isNum(seconds)) return DASH;
    if (seconds < 10) return seconds.toFixed(2) + ' s';
    if (seconds < 60) return seconds.toFixed(1) + ' s';
    var s = Math.round(seconds);
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  /** @param {string} iso */
  function fmtAgo(iso) {
    var t = Date.parse(iso);
    if (!isFinite(t)) return DASH;
    var s = Math.round((Date.now() - t) / 1000);
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  /** @param {string} iso */
  function fmtUntil(iso) {
    var t = Date.parse(iso);
    if (!isFinite(t)) return '';
    var s = Math.round((t - Date.now()) / 1000);
    return s <= 0 ? 'deadline passed' : 'deadline in ' + fmtDuration(s);
  }

  // ---- sign in / out ---------------------------------------------------------------------------

  /** @param {string} token @returns {Promise<StatusReply>} */
  function fetchStatus(token) {
    var controller = new AbortController();
    var timeout = setTimeout(function () {
      controller.abort();
    }, 10000);
    return fetch('/api/status', {
      headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      signal: controller.signal,
    })
      .then(function (res) {
        if (res.status === 401) return /** @type {StatusReply} */ ({ unauthorized: true });
        if (!res.ok) throw new Error('the server answered HTTP ' + res.status);
        return res.json().then(function (/** @type {FederationStatus} */ status) {
          return /** @type {StatusReply} */ ({ status: status });
        });
      })
      .finally(function () {
        clearTimeout(timeout);
      });
  }

  /** Why the status could not be read, in words (never the browser's bare "Failed to fetch"). @param {Error} err */
  function reachError(err) {
    if (err.name === 'AbortError') return 'The server at ' + location.host + ' did not answer within 10 seconds. Check that `covey server` is still running.';
    if (err.name === 'TypeError')
      return 'Cannot reach the server at ' + location.host + ': it may have stopped, or the network is down. Check that `covey server` is running.';
    return 'The server could not show the dashboard: ' + err.message + '.';
  }

  /** @param {string | undefined} [message] */
  function showLogin(message) {
    generation++;
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
    destroyDashboard();
    $('login').hidden = false;
    $('session').hidden = true;
    var error = $('login-error');
    error.hidden = !message;
    error.textContent = message || '';
    var token = input('token');
    token.value = '';
    token.focus();
  }

  /** @param {string | undefined} [message] */
  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(message);
  }

  /** @param {Event} event */
  function onLogin(event) {
    event.preventDefault();
    var token = input('token').value.trim();
    var button = /** @type {HTMLButtonElement} */ ($('login-button'));
    if (!token) return;
    button.disabled = true;
    fetchStatus(token)
      .then(function (result) {
        if (result.unauthorized) {
          showLogin('That token was not accepted.');
          return;
        }
        // A valid token: remembered for this tab only.
        sessionStorage.setItem(TOKEN_KEY, token);
        enterDashboard(result.status);
      })
      .catch(function (/** @type {Error} */ err) {
        showLogin(reachError(err));
      })
      .finally(function () {
        button.disabled = false;
      });
  }

  // ---- dashboard lifecycle ---------------------------------------------------------------------

  /** @param {FederationStatus} status */
  function enterDashboard(status) {
    generation++;
    $('login').hidden = true;
    $('login-error').hidden = true;
    $('session').hidden = false;
    if (!dashboard()) {
      var fragment = /** @type {HTMLTemplateElement} */ ($('dashboard-template')).content.cloneNode(true);
      $('app').appendChild(fragment);
    }
    lastOk = Date.now();
    render(status);
    schedulePoll();
  }

  function destroyDashboard() {
    Object.keys(charts).forEach(function (k) {
      charts[k].destroy();
    });
    charts = {};
    lastRoundsKey = null;
    lastStatus = null;
    var view = dashboard();
    if (view) view.remove();
  }

  function schedulePoll() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, POLL_MS);
  }

  function poll() {
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return showLogin();
    var mine = generation;
    fetchStatus(token)
      .then(function (result) {
        if (mine !== generation) return;
        if (result.unauthorized) return signOut('The operator token is no longer accepted. Sign in again.');
        lastOk = Date.now();
        render(result.status);
        schedulePoll();
      })
      .catch(function () {
        if (mine !== generation) return;
        setLive(false);
        schedulePoll();
      });
  }

  /** @param {boolean} ok */
  function setLive(ok) {
    var live = $('live');
    live.className = ok ? 'live ok' : 'live stale';
    setText(live, ok ? 'live' : 'connection lost: last data ' + fmtAgo(new Date(lastOk).toISOString()) + ', retrying');
  }

  // ---- rendering -------------------------------------------------------------------------------

  /** @param {FederationStatus} status */
  function render(status) {
    lastStatus = status;
    setLive(true);
    renderSummary(status);
    renderEnd(status.end);
    var roundsKey = JSON.stringify([status.rounds, status.abortedAttempts, status.maxEpsilon]);
    if (roundsKey !== lastRoundsKey) {
      lastRoundsKey = roundsKey;
      renderRounds(status);
      renderCharts(status);
      renderEvaluation(status);
    }
    renderMembers(status);
    setText($('config'), JSON.stringify(status.config, null, 2));
  }

  /** @param {FederationStatus} s */
  function renderSummary(s) {
    setText(field('federationId'), s.federationId);
    var updated = field('updatedAt');
    setText(updated, fmtAgo(s.updatedAt));
    updated.title = s.updatedAt;

    var phase = field('phase');
    setText(phase, phaseText(s));
    phase.setAttribute('data-phase', s.phase);
    phase.className = 'phase phase-' + String(s.phase).replace(/[^a-z-]/g, '');
    var open = s.openRound;
    setText(
      field('openRound'),
      open
        ? 'round ' + open.round + ': ' + open.received + ' of ' + open.cohort + ' updates in, ' + open.declined + ' declined · ' + fmtUntil(open.deadline)
        : 'no round open',
    );

    setText(field('rounds'), fmtInt(s.completedRound) + ' / ' + fmtInt(s.targetRounds));
    var rp = progress('roundsProgress');
    rp.max = Math.max(1, s.targetRounds || 0);
    rp.value = Math.min(rp.max, s.completedRound || 0);

    var ep = progress('epsilonProgress');
    var epsilon = s.epsilon;
    var maxEpsilon = s.maxEpsilon;
    if (isNum(epsilon)) {
      setText(field('epsilon'), fmtEpsilon(s.epsilon) + (isNum(s.maxEpsilon) ? ' / ' + fmtEpsilon(s.maxEpsilon) : ''));
      setText(field('epsilonNote'), 'at δ = ' + fmtDelta(s.delta) + (isNum(s.maxEpsilon) ? '' : ' · no maxEpsilon set'));
    } else {
      setText(field('epsilon'), DASH);
      setText(field('epsilonNote'), s.config && s.config.dp && s.config.dp.mode === 'off' ? 'DP is off' : 'no rounds released yet');
    }
    ep.hidden = !(isNum(epsilon) && isNum(maxEpsilon));
    if (isNum(epsilon) && isNum(maxEpsilon)) {
      ep.max = maxEpsilon;
      ep.value = Math.min(maxEpsilon, epsilon);
      ep.classList.toggle('near-budget', epsilon >= 0.9 * maxEpsilon);
      ep.title = fmtEpsilon(epsilon) + ' of the ' + fmtEpsilon(maxEpsilon) + ' budget spent';
    }

    var members = s.members || [];
    var connected = members.filter(function (m) {
      return m.connected;
    }).length;
    setText(field('members'), fmtInt(connected) + ' / ' + fmtInt(members.length));
  }

  /**
   * How the federation ended, in the words `covey server` logs (src/core/protocol/end.ts's
   * describeEnd): "complete" only when every round was released, else "stopped" with the reason.
   * @param {FederationEnd | null} end
   */
  function renderEnd(end) {
    var el = $('end');
    el.hidden = !end;
    if (!end) return;
    el.setAttribute('data-outcome', end.outcome);
    el.className = 'card end end-' + end.outcome;
    setText(
      el,
      (end.outcome === 'completed'
        ? 'Federation complete: all ' + fmtInt(end.of) + ' rounds done.'
        : 'Federation stopped after ' + fmtInt(end.rounds) + ' of ' + fmtInt(end.of) + ' rounds: ' + end.message + (/[.!?]$/.test(end.message) ? '' : '.')) +
        ' This dashboard stays available, read-only, until the server is stopped.',
    );
  }

  /** The server's phase in words, with the counts that explain it ("waiting for members: need 2, have 1"). @param {FederationStatus} s */
  function phaseText(s) {
    var cohort = s.config && s.config.cohort;
    var connected = (s.members || []).filter(function (m) {
      return m.connected;
    }).length;
    var next = (s.completedRound || 0) + 1;
    switch (s.phase) {
      case 'waiting-for-clients': {
        // As the server decides (server/rounds.ts): max(minClients, minConnected) connected members.
        var need = cohort ? Math.max(cohort.minClients, cohort.minConnected || 0) : null;
        return 'waiting for members: need ' + (need === null ? DASH : fmtInt(need)) + ', have ' + fmtInt(connected);
      }
      case 'training':
        return s.openRound
          ? 'round ' + s.openRound.round + ': members training, ' + fmtInt(s.openRound.received) + ' of ' + fmtInt(s.openRound.cohort) + ' updates in'
          : 'round ' + next + ': members training';
      case 'aggregating':
        return 'round ' + (s.openRound ? s.openRound.round : next) + ': aggregating the updates';
      case 'idle':
        return 'between rounds (' + fmtInt(s.completedRound) + ' of ' + fmtInt(s.targetRounds) + ' done)';
      case 'done':
        return s.end && s.end.outcome === 'completed'
          ? 'complete: all ' + fmtInt(s.end.of) + ' rounds done'
          : 'stopped after ' + fmtInt(s.completedRound) + ' of ' + fmtInt(s.targetRounds) + ' rounds';
      default:
        return String(s.phase);
    }
  }

  /**
   * Accuracy ticks at round values: the largest step of 1, 2, 5, 10, 20, 25 or 50 percentage points
   * that gives at least 3 ticks in [lo, hi], at its multiples (never 3%, 8%, 13%).
   * @param {number} lo @param {number} hi @returns {number[]}
   */
  function accuracySplits(lo, hi) {
    var steps = [0.5, 0.25, 0.2, 0.1, 0.05, 0.02, 0.01];
    var ticks = /** @type {number[]} */ ([]);
    for (var i = 0; i < steps.length; i++) {
      ticks = [];
      for (var k = Math.ceil(lo / steps[i] - 1e-9); k * steps[i] <= hi + 1e-9; k++) ticks.push(Math.round(k * steps[i] * 100) / 100 || 0); // || 0: never -0
      if (ticks.length >= 3) return ticks;
    }
    return ticks;
  }

  /** @param {HTMLTableRowElement} tr @param {string} text @param {string} [className] @param {string} [title] */
  function cell(tr, text, className, title) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    if (title) td.title = title;
    tr.appendChild(td);
    return td;
  }

  /**
   * One row per released round, and under it one row per attempt at that round that released
   * nothing, with the server's reason; an attempt followed by another at the same round is
   * labelled a retry. A round that never released (the federation stopped on it) still gets its
   * group of aborted attempts.
   * @param {FederationStatus} s
   */
  function renderRounds(s) {
    /** @type {Record<number, AbortedAttempt[]>} */
    var aborted = {};
    (s.abortedAttempts || []).forEach(function (a) {
      (aborted[a.round] = aborted[a.round] || []).push(a);
    });
    /** @type {Record<number, RoundStatus>} */
    var released = {};
    (s.rounds || []).forEach(function (r) {
      released[r.round] = r;
    });
    var numbers = Object.keys(aborted)
      .map(Number)
      .concat(
        (s.rounds || []).map(function (r) {
          return r.round;
        }),
      )
      .filter(function (n, i, all) {
        return all.indexOf(n) === i;
      })
      .sort(function (a, b) {
        return b - a;
      });
    var shown = numbers.slice(0, MAX_ROWS);
    var tbody = /** @type {HTMLTableSectionElement} */ (document.querySelector('#rounds-table tbody'));
    var rows = document.createDocumentFragment();
    shown.forEach(function (n) {
      var r = released[n];
      var attempts = aborted[n] || [];
      if (r) {
        var tr = document.createElement('tr');
        tr.dataset.round = String(r.round);
        tr.className = 'round-row';
        cell(tr, String(r.round) + (attempts.length ? ' (attempt ' + (attempts.length + 1) + ')' : ''));
        cell(tr, fmtInt(r.cohort), 'num');
        cell(tr, fmtInt(r.participants), 'num');
        cell(tr, fmtInt(r.declined), 'num');
        var accuracy = cell(tr, fmtPercent(r.accuracy), 'num');
        if (r.federatedEval) {
          // Federated evaluation: the model the round started from, on the members' own held-out data.
          var federated = document.createElement('small');
          federated.className = 'federated';
          federated.textContent = 'federated ' + fmtPercent(r.federatedEval.accuracy);
          federated.title =
            "the round's starting model on " + fmtInt(r.federatedEval.examples) + ' held-out examples of ' + fmtInt(r.federatedEval.members) + ' members';
          accuracy.appendChild(federated);
        }
        cell(tr, fmtLoss(r.loss), 'num');
        cell(tr, fmtEpsilon(r.epsilon), 'num', isNum(r.delta) ? 'at δ = ' + fmtDelta(r.delta) : '');
        cell(tr, fmtDuration(r.seconds), 'num');
        rows.appendChild(tr);
      }
      attempts.forEach(function (a, i) {
        var retried = Boolean(r) || i < attempts.length - 1;
        var row = document.createElement('tr');
        row.dataset.round = String(n);
        row.dataset.attempt = a.attemptId;
        row.className = 'attempt-row';
        cell(row, 'round ' + n + ', attempt ' + (i + 1), 'attempt');
        cell(row, fmtInt(a.cohort), 'num');
        var why = cell(row, (retried ? 'aborted, retried: ' : 'aborted: ') + a.reason, 'attempt-reason', a.kind + ' · ' + a.abortedAt);
        why.colSpan = 6;
        rows.appendChild(row);
      });
    });
    tbody.replaceChildren(rows);
    var retries = (s.abortedAttempts || []).length;
    $('rounds-table').hidden = numbers.length === 0;
    $('empty-rounds').hidden = numbers.length !== 0;
    setText(
      field('roundsCount'),
      numbers.length
        ? '(' +
            fmtInt((s.rounds || []).length) +
            ' released' +
            (retries ? ', ' + fmtInt(retries) + (retries === 1 ? ' aborted attempt' : ' aborted attempts') : '') +
            ')'
        : '',
    );
    var truncated = $('rounds-truncated');
    truncated.hidden = numbers.length <= MAX_ROWS;
    setText(truncated, 'Showing the latest ' + MAX_ROWS + ' of ' + fmtInt(numbers.length) + ' rounds.');
  }

  /**
   * The latest evaluated round's confusion matrix as a heat map (each cell shaded by its share of
   * the row, i.e. of the true class) and its per-class precision, recall and F1 as bars.
   * @param {FederationStatus} s
   */
  function renderEvaluation(s) {
    var latest = (s.rounds || []).reduce(function (/** @type {RoundStatus | null} */ best, /** @type {RoundStatus} */ r) {
      return r.confusion && (!best || r.round > best.round) ? r : best;
    }, null);
    $('evaluation').hidden = latest === null;
    if (!latest || !latest.confusion) return;
    setText(field('evaluationRound'), '(round ' + latest.round + ')');
    setText(
      field('evaluationSummary'),
      'macro-F1 ' + (isNum(latest.macroF1) ? latest.macroF1.toFixed(4) : DASH) + ' · one-vs-rest ROC-AUC ' + (isNum(latest.auc) ? latest.auc.toFixed(4) : DASH),
    );
    var table = document.createDocumentFragment();
    var head = document.createElement('tr');
    head.appendChild(document.createElement('th'));
    latest.confusion.forEach(function (_row, p) {
      var th = document.createElement('th');
      th.textContent = String(p);
      head.appendChild(th);
    });
    table.appendChild(head);
    latest.confusion.forEach(function (row, t) {
      var tr = document.createElement('tr');
      var th = document.createElement('th');
      th.textContent = String(t);
      tr.appendChild(th);
      var total = row.reduce(function (a, b) {
        return a + b;
      }, 0);
      row.forEach(function (n) {
        var share = total > 0 ? n / total : 0;
        var td = cell(tr, fmtInt(n), 'num' + (share > 0.5 ? ' dark' : ''), total > 0 ? fmtPercent(share) + ' of class ' + t : '');
        td.style.backgroundColor = 'rgba(37, 99, 235, ' + share.toFixed(3) + ')';
      });
      table.appendChild(tr);
    });
    $('confusion').replaceChildren(table);
    var bars = document.createDocumentFragment();
    (latest.perClass || []).forEach(function (c) {
      var row = document.createElement('div');
      row.className = 'class-row';
      row.dataset.label = String(c.label);
      var name = document.createElement('span');
      name.className = 'class-label';
      name.textContent = String(c.label);
      row.appendChild(name);
      [
        ['precision', c.precision],
        ['recall', c.recall],
        ['f1', c.f1],
      ].forEach(function (pair) {
        var bar = document.createElement('span');
        bar.className = 'bar bar-' + pair[0];
        bar.title = pair[0] + ' ' + fmtPercent(/** @type {number} */ (pair[1]));
        bar.style.width = (100 * /** @type {number} */ (pair[1])).toFixed(1) + '%';
        var track = document.createElement('span');
        track.className = 'track';
        track.appendChild(bar);
        row.appendChild(track);
      });
      bars.appendChild(row);
    });
    $('per-class').replaceChildren(bars);
  }

  /** @param {FederationStatus} s */
  function renderMembers(s) {
    var members = (s.members || []).slice().sort(function (a, b) {
      if (a.connected !== b.connected) return a.connected ? -1 : 1;
      return (Date.parse(b.lastSeen) || 0) - (Date.parse(a.lastSeen) || 0);
    });
    var shown = members.slice(0, MAX_ROWS);
    var tbody = /** @type {HTMLTableSectionElement} */ (document.querySelector('#members-table tbody'));
    var rows = document.createDocumentFragment();
    shown.forEach(function (m) {
      var tr = document.createElement('tr');
      cell(tr, m.clientId, 'mono');
      var c = cell(tr, m.connected ? 'connected' : 'offline', m.connected ? 'state on' : 'state off');
      c.setAttribute('aria-label', m.connected ? 'connected' : 'offline');
      cell(tr, m.connected ? 'now' : fmtAgo(m.lastSeen), '', m.lastSeen);
      cell(tr, m.availability === null ? DASH : AVAILABILITY_WORDS[m.availability] || m.availability);
      cell(tr, fmtInt(m.roundsContributed), 'num');
      rows.appendChild(tr);
    });
    tbody.replaceChildren(rows);
    $('members-table').hidden = members.length === 0;
    $('empty-members').hidden = members.length !== 0;
    setText(field('membersCount'), members.length ? '(' + fmtInt(members.length) + ')' : '');
    var truncated = $('members-truncated');
    truncated.hidden = members.length <= MAX_ROWS;
    setText(truncated, 'Showing ' + MAX_ROWS + ' of ' + fmtInt(members.length) + ' members (connected first, then most recently seen).');
  }

  // ---- charts ----------------------------------------------------------------------------------

  /** @param {HTMLElement} el */
  function chartWidth(el) {
    return Math.max(240, Math.floor(el.getBoundingClientRect().width));
  }

  /** Integer rounds on the x axis; a lone round still gets a visible range. */
  function roundScale() {
    return {
      time: false,
      /** @type {RangeFunction} */
      range: function (u, min, max) {
        if (min == null || max == null) return [0, 1];
        return min === max ? [min - 1, max + 1] : [min, max];
      },
    };
  }

  /** @returns {Axis} */
  function xAxis() {
    return {
      label: 'round',
      incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
      values: function (u, /** @type {number[]} */ ticks) {
        return ticks.map(function (t) {
          return Number.isInteger(t) ? String(t) : '';
        });
      },
    };
  }

  /** @param {string} label @param {string} color @param {Series} extra @returns {Series} */
  function lineSeries(label, color, extra) {
    /** @type {Series} */
    var s = { label: label, stroke: color, width: 2, points: { show: true, size: 6, fill: color }, spanGaps: false };
    return Object.assign(s, extra);
  }

  /** @param {HTMLElement} el @param {Series[]} series @param {Axis} yAxis @param {RangeFunction} yRange @returns {import('uplot').Options} */
  function chartOptions(el, series, yAxis, yRange) {
    return {
      width: chartWidth(el),
      height: 220,
      scales: { x: roundScale(), y: { range: yRange } },
      axes: [xAxis(), yAxis],
      series: [
        /** @type {Series} */ ({
          label: 'round',
          value: function (u, v) {
            return v == null ? DASH : String(v);
          },
        }),
      ].concat(series),
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    };
  }

  /**
   * @param {string} key
   * @param {(el: HTMLElement, data: ChartData) => Chart} make
   * @param {ChartData} data
   * @param {string} emptyMessage
   */
  function upsertChart(key, make, data, emptyMessage) {
    var el = $('chart-' + key);
    var empty = $('empty-' + key);
    var hasData = data[1].some(isNum);
    if (!hasData) {
      if (charts[key]) {
        charts[key].destroy();
        delete charts[key];
      }
      el.hidden = true;
      empty.hidden = false;
      setText(empty, emptyMessage);
      return;
    }
    el.hidden = false;
    empty.hidden = true;
    // Rebuilt (not setData) so that a changed budget or series count is always drawn right; this
    // happens once per completed round, not per poll.
    if (charts[key]) charts[key].destroy();
    charts[key] = make(el, data);
  }

  /** @param {FederationStatus} s */
  function renderCharts(s) {
    var rounds = (s.rounds || []).slice().sort(function (/** @type {RoundStatus} */ a, /** @type {RoundStatus} */ b) {
      return a.round - b.round;
    });
    var xs = rounds.map(function (r) {
      return r.round;
    });
    /** @param {'accuracy' | 'loss' | 'epsilon'} k */
    var pick = function (k) {
      return rounds.map(function (r) {
        var v = r[k];
        return isNum(v) ? v : null;
      });
    };
    var noRounds = 'No rounds yet.';
    var dpOff = s.config && s.config.dp && s.config.dp.mode === 'off';

    upsertChart(
      'accuracy',
      function (el, data) {
        return new uPlot(
          chartOptions(
            el,
            [
              lineSeries('accuracy', COLORS.accuracy, {
                value: function (u, v) {
                  return fmtPercent(v);
                },
              }),
            ],
            {
              label: 'accuracy',
              size: 60,
              splits: function (u, axisIdx, min, max) {
                return accuracySplits(min, max);
              },
              values: function (u, ticks) {
                return ticks.map(function (t) {
                  return (t * 100).toFixed(0) + '%';
                });
              },
            },
            function (u, min, max) {
              if (min == null) return [0, 1];
              var lo = Math.max(0, Math.floor(min * 10 + 1e-9) / 10);
              var hi = Math.min(1, Math.ceil(max * 10 - 1e-9) / 10);
              if (hi - lo < 0.1) {
                lo = Math.max(0, lo - 0.1);
                hi = Math.min(1, hi + 0.1);
              }
              return [lo, hi];
            },
          ),
          data,
          el,
        );
      },
      [xs, pick('accuracy')],
      rounds.length ? 'No accuracy measured: the server has no evaluation data (config.evaluation).' : noRounds,
    );

    upsertChart(
      'loss',
      function (el, data) {
        return new uPlot(
          chartOptions(
            el,
            [
              lineSeries('loss', COLORS.loss, {
                value: function (u, v) {
                  return fmtLoss(v);
                },
              }),
            ],
            { label: 'loss', size: 60 },
            function (u, min, max) {
              if (min == null) return [0, 1];
              return [0, max > 0 ? max * 1.1 : 1];
            },
          ),
          data,
          el,
        );
      },
      [xs, pick('loss')],
      rounds.length ? 'No loss measured: the server has no evaluation data (config.evaluation).' : noRounds,
    );

    var max = isNum(s.maxEpsilon) ? s.maxEpsilon : null;
    upsertChart(
      'epsilon',
      function (el, data) {
        var series = [
          lineSeries('ε', COLORS.epsilon, {
            value: function (u, v) {
              return fmtEpsilon(v);
            },
          }),
        ];
        if (data.length > 2) {
          series.push({
            label: 'maxEpsilon',
            stroke: COLORS.budget,
            width: 2,
            dash: [6, 4],
            points: { show: false },
            value: function (u, v) {
              return fmtEpsilon(v);
            },
          });
        }
        return new uPlot(
          chartOptions(el, series, { label: 'ε', size: 60 }, function (u, min, top) {
            var hi = Math.max(top || 0, max || 0);
            return [0, hi > 0 ? hi * 1.1 : 1];
          }),
          data,
          el,
        );
      },
      max !== null
        ? [
            xs,
            pick('epsilon'),
            xs.map(function () {
              return max;
            }),
          ]
        : [xs, pick('epsilon')],
      !rounds.length ? noRounds : dpOff ? 'DP is off: no privacy accounting.' : 'No ε recorded for these rounds.',
    );
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  var resizeTimer;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      Object.keys(charts).forEach(function (k) {
        var el = $('chart-' + k);
        charts[k].setSize({ width: chartWidth(el), height: 220 });
      });
    }, 100);
  });

  // Relative times ("12 s ago", the deadline) move on between polls.
  setInterval(function () {
    if (lastStatus && dashboard()) {
      renderSummary(lastStatus);
      if (Date.now() - lastOk > POLL_MS * 3) setLive(false);
    }
  }, 1000);

  // ---- start -----------------------------------------------------------------------------------

  function start() {
    $('login-form').addEventListener('submit', onLogin);
    $('sign-out').addEventListener('click', function () {
      signOut();
    });
    if (typeof uPlot === 'undefined') {
      showLogin('The chart library did not load.');
      return;
    }
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return showLogin();
    fetchStatus(token)
      .then(function (result) {
        if (result.unauthorized) return signOut('The saved operator token is no longer accepted. Sign in again.');
        enterDashboard(result.status);
      })
      .catch(function (/** @type {Error} */ err) {
        showLogin(reachError(err));
      });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
