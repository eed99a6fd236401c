// A small live slot grid for the browser test: REST for the grid, then
// Socket.IO (the bundle coworkctl serves) for live changes. Its state is
// on window.live and in the DOM (data-status of each slot button).
(function () {
  const q = new URLSearchParams(location.search);
  const spazio = Number(q.get('spazio'));
  const sede = Number(q.get('sede'));
  const date = q.get('date');
  const live = { connected: false, joined: false, transport: '', updates: 0, errors: [] };
  window.live = live;
  const state = document.getElementById('state');
  const gridEl = document.getElementById('grid');

  function show(slot, status) {
    let b = gridEl.querySelector(`[data-slot-id="${slot}"]`);
    if (!b) {
      b = document.createElement('button');
      b.dataset.slotId = String(slot);
      gridEl.appendChild(b);
    }
    b.dataset.status = status;
    b.textContent = `${slot} ${status}`;
  }

  fetch(`/api/slots/${spazio}/${date}`)
    .then((r) => r.json())
    .then((body) => {
      body.data.slots.forEach((s) => show(s.id_slot, s.status));
      live.loaded = true;
    })
    .catch((e) => live.errors.push(String(e)));

  if (typeof io !== 'function') {
    live.errors.push('io is not defined: /socket.io/socket.io.js did not load');
    state.textContent = 'no client';
    return;
  }
  const socket = io({ auth: { token: q.get('token') }, transports: ['polling', 'websocket'] });
  socket.on('connect', () => {
    live.connected = true;
    live.transport = socket.io.engine.transport.name;
    socket.io.engine.on('upgrade', (t) => { live.transport = t.name; });
    socket.emit('join_space', { spazioId: spazio, sedeId: sede });
  });
  socket.on('joined_space', () => { live.joined = true; state.textContent = 'live'; });
  socket.on('slot_update', (u) => { live.updates += 1; show(u.slotId, u.status); });
  socket.on('connect_error', (e) => live.errors.push(e.message));
})();
