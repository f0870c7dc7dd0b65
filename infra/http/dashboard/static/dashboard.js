/* global document, location, history, sessionStorage, fetch, setTimeout, clearTimeout */
// Crest's live sale page: polls /dashboard/data every second and draws it with plain SVG.
'use strict';

(() => {
  const TOKEN_KEY = 'crest.dashboard.token';
  const POLL_MS = 1000;
  const SPARK_POINTS = 60;
  const SVG = 'http://www.w3.org/2000/svg';
  const OUTCOME_COLOURS = { placed: '#2e9e6a', replayed: '#5fb8a6', pending: '#e0a526', out_of_stock: '#8a96a3', rate_limited: '#b36ad8', overloaded: '#c8463d', unavailable: '#c8463d' };
  const PALETTE = ['#3c6fd8', '#d8793c', '#7d5bd6', '#3cb4d8', '#d83c8f', '#6b8e23'];
  const integer = new Intl.NumberFormat('en');
  const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const rates = [];
  let timer;
  let seq = 0;

  const el = (tag, attributes = {}, text) => {
    const node = tag === 'svg' || tag === 'rect' || tag === 'polyline' ? document.createElementNS(SVG, tag) : document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const colourOf = (outcome) => {
    if (OUTCOME_COLOURS[outcome]) return OUTCOME_COLOURS[outcome];
    let hash = 0;
    for (const ch of outcome) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return PALETTE[hash % PALETTE.length];
  };

  const setFigure = (node, value, text) => {
    node.dataset.value = value === null ? '' : String(value);
    node.textContent = value === null ? '–' : text;
  };

  const status = (state, text) => {
    body.dataset.state = state;
    $('status').textContent = text;
  };

  /** A token passed as `#token=…` (never sent to the server) is kept for this tab and removed from the address bar. */
  const takeTokenFromFragment = () => {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (!match) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  };

  const askForToken = (reason) => {
    clearTimeout(timer);
    $('live').hidden = true;
    $('auth').hidden = false;
    $('auth-reason').textContent = reason;
    status('auth', 'Waiting for the admin token');
    $('token').focus();
  };

  /** Stacked bar of `parts` ([{ value, className | colour }]) across the whole of `svg` (viewBox width 100). */
  const drawBar = (svg, parts, height) => {
    const total = parts.reduce((sum, p) => sum + p.value, 0);
    svg.replaceChildren();
    if (total <= 0) return;
    let x = 0;
    for (const part of parts) {
      const width = (part.value / total) * 100;
      if (width <= 0) continue;
      const rect = el('rect', { x, y: 0, width, height });
      if (part.className) rect.setAttribute('class', part.className);
      else rect.setAttribute('fill', part.colour);
      svg.append(rect);
      x += width;
    }
  };

  const drawSpark = (perSecond) => {
    rates.push(perSecond ?? 0);
    if (rates.length > SPARK_POINTS) rates.shift();
    const max = Math.max(1, ...rates);
    const points = rates.map((r, i) => `${SPARK_POINTS - rates.length + i},${(20 - (r / max) * 19).toFixed(2)}`).join(' ');
    $('spark').replaceChildren(el('polyline', { points }));
  };

  const renderOrders = (data) => {
    const { perSecond, byOutcome, p99Ms } = data.orders;
    setFigure($('rate'), perSecond, decimal.format(perSecond ?? 0));
    setFigure($('p99'), p99Ms, `${decimal.format(p99Ms ?? 0)} ms`);
    setFigure($('open'), data.openOrders, integer.format(data.openOrders ?? 0));
    setFigure($('window'), data.windowSeconds, `over the last ${decimal.format(data.windowSeconds ?? 0)} s`);
    if (data.windowSeconds === null) $('window').textContent = 'warming up';
    drawSpark(perSecond);
    const outcomes = Object.entries(byOutcome).sort(([, a], [, b]) => b - a);
    drawBar($('outcomes-bar'), outcomes.map(([outcome, value]) => ({ value, colour: colourOf(outcome) })), 6);
    $('outcomes').replaceChildren(
      ...(outcomes.length === 0
        ? [el('li', {}, data.windowSeconds === null ? 'measuring…' : 'no orders')]
        : outcomes.map(([outcome, value]) => {
            const swatch = el('svg', { viewBox: '0 0 10 10', 'aria-hidden': 'true' });
            swatch.append(el('rect', { width: 10, height: 10, fill: colourOf(outcome) }));
            const item = el('li', { 'data-outcome': outcome, 'data-value': value });
            item.append(swatch, `${outcome.replaceAll('_', ' ')} ${decimal.format(value)}/s`);
            return item;
          })),
    );
  };

  const skuCard = (sku) => {
    const card = el('li', { class: 'sku', 'data-sku': sku });
    const head = el('div', { class: 'sku-head' });
    head.append(el('span', { class: 'sku-name' }, sku));
    const bar = el('svg', { class: 'bar', viewBox: '0 0 100 6', preserveAspectRatio: 'none', role: 'img' });
    const figures = el('dl', { class: 'figures' });
    for (const name of ['available', 'reserved', 'sold']) {
      const cell = el('div');
      cell.append(el('dt', {}, name), el('dd', { 'data-figure': name }));
      figures.append(cell);
    }
    card.append(head, bar, figures);
    return card;
  };

  const renderSku = (card, entry) => {
    const head = card.querySelector('.sku-head');
    head.replaceChildren(head.firstChild);
    if (entry.sale) head.append(el('span', { class: 'badge sale', title: `${entry.sale.saleId} until ${entry.sale.endsAt}` }, 'sale'));
    if (entry.hot) head.append(el('span', { class: 'badge' }, 'hot'));
    if (entry.stale) head.append(el('span', { class: 'badge stale' }, 'stale'));
    card.dataset.hot = String(entry.hot);
    card.dataset.sale = entry.sale ? entry.sale.saleId : '';
    const stock = entry.stock ?? { available: 0, reserved: 0, sold: 0 };
    for (const name of ['available', 'reserved', 'sold']) {
      card.dataset[name] = entry.stock ? String(stock[name]) : '';
      card.querySelector(`[data-figure="${name}"]`).textContent = entry.stock ? integer.format(stock[name]) : '–';
    }
    const bar = card.querySelector('svg');
    bar.setAttribute('aria-label', `${stock.available} available, ${stock.reserved} reserved, ${stock.sold} sold`);
    drawBar(bar, ['available', 'reserved', 'sold'].map((name) => ({ value: stock[name], className: name })), 6);
  };

  const renderSkus = (skus) => {
    const list = $('skus');
    const cards = new Map([...list.children].map((card) => [card.dataset.sku, card]));
    list.replaceChildren(
      ...skus.map((entry) => {
        const card = cards.get(entry.sku) ?? skuCard(entry.sku);
        renderSku(card, entry);
        return card;
      }),
    );
    $('no-skus').hidden = skus.length > 0;
  };

  const render = (data) => {
    $('auth').hidden = true;
    $('live').hidden = false;
    renderOrders(data);
    renderSkus(data.skus);
    body.dataset.seq = String(++seq);
    status('live', `Live · updated ${new Date(data.at).toLocaleTimeString()}`);
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(poll, POLL_MS);
  };

  async function poll() {
    if (document.hidden) return schedule();
    const token = sessionStorage.getItem(TOKEN_KEY);
    let response;
    try {
      response = await fetch('/dashboard/data', { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
    } catch {
      status('error', 'Crest is not answering; retrying');
      return schedule();
    }
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      return askForToken(token ? 'That token does not match CREST_ADMIN_TOKEN.' : 'This page shows its figures to operators only.');
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      status('error', `${problem.detail ?? `HTTP ${response.status}`}; retrying`);
      return schedule();
    }
    render(await response.json());
    schedule();
  }

  $('auth').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    status('loading', 'Connecting…');
    poll();
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && body.dataset.state !== 'auth') poll();
  });

  takeTokenFromFragment();
  poll();
})();
