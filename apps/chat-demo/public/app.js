// The chat page: plain ES module, the browser's own WebSocket, protocol fullduplex-chat.v1 (PROTOCOL.md).
const SUBPROTOCOL = 'fullduplex-chat.v1';
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const LOG_PER_ROOM = 200;
const ROOM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const NICK_PATTERN = /^[\p{L}\p{N}_.-](?:[\p{L}\p{N} _.-]{0,22}[\p{L}\p{N}_.-])?$/u;
const STORAGE_KEY = 'fullduplex-chat';

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) if (child != null) node.append(child);
  return node;
};

// ---------------------------------------------------------------- state (sessionStorage survives a reload)

/** @type {{nick: string|null, rooms: string[], current: string|null, lastIds: Record<string, number>, log: Record<string, object[]>}} */
const state = loadState();
const members = new Map(); // room → [{id, nick}]
const typing = new Map(); // room → Map(memberId → {nick, until})
const unread = new Map(); // room → count
const joined = new Set(); // rooms joined on the current connection
let myId = null;
let ws = null;
let attempt = 0;
let retryTimer = null;
let pendingFile = null; // file announcement waiting for its binary frame
const outbox = []; // text frames typed while offline
let typingSentAt = 0;
let typingStopTimer = null;

function loadState() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    if (saved && typeof saved === 'object')
      return { nick: null, rooms: [], current: null, lastIds: {}, log: {}, ...saved };
  } catch {}
  return { nick: null, rooms: [], current: null, lastIds: {}, log: {} };
}
let saveTimer = null;
// Object URLs die with the page: a reloaded page shows the file's name instead.
const serialize = (value) => JSON.stringify(value, (key, v) => (key === 'url' ? undefined : v));
function saveState() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => {
    try {
      sessionStorage.setItem(STORAGE_KEY, serialize(state));
    } catch {
      // Storage full: keep the ids (what resume needs), drop the logs.
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ ...state, log: {} }));
    }
  }, 50);
}
addEventListener('pagehide', () => {
  clearTimeout(saveTimer);
  try {
    sessionStorage.setItem(STORAGE_KEY, serialize(state));
  } catch {}
});

// ---------------------------------------------------------------- connection with backoff

function setStatus(kind, text) {
  const status = $('status');
  status.dataset.state = kind;
  status.textContent = text;
  $('composer').querySelector('button').disabled = false;
  $('attach').disabled = kind !== 'online';
}

function connect() {
  clearTimeout(retryTimer);
  setStatus(attempt === 0 ? 'connecting' : 'reconnecting', attempt === 0 ? 'connecting…' : 'reconnecting…');
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const socket = new WebSocket(url, SUBPROTOCOL);
  socket.binaryType = 'arraybuffer';
  ws = socket;
  socket.onopen = () => socket.send(JSON.stringify({ type: 'hello', nick: state.nick }));
  socket.onmessage = (event) => {
    if (socket !== ws) return;
    if (typeof event.data === 'string') {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      onMessage(message);
    } else onBinary(event.data);
  };
  socket.onclose = (event) => {
    if (socket !== ws) return;
    ws = null;
    joined.clear();
    pendingFile = null;
    if (event.code === 1008 || event.code === 1003 || event.code === 1009)
      notice(`disconnected: ${event.reason || event.code}`);
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  attempt += 1;
  // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at 10 s, each ±50 %.
  const base = Math.min(10_000, 500 * 2 ** (attempt - 1));
  const delay = Math.round(base * (0.5 + Math.random()));
  const until = Date.now() + delay;
  const tick = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    setStatus(attempt > 3 ? 'offline' : 'reconnecting', `offline · retry in ${left}s`);
  };
  tick();
  const countdown = setInterval(tick, 500);
  retryTimer = setTimeout(() => {
    clearInterval(countdown);
    connect();
  }, delay);
}

// Retry now when the tab comes back or the network returns.
addEventListener('online', () => !ws && state.nick && connect());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && !ws && state.nick && attempt > 0) connect();
});

function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(message));
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- protocol

function onMessage(m) {
  switch (m.type) {
    case 'welcome':
      myId = m.id;
      attempt = 0;
      setStatus('online', 'online');
      $('known-rooms').replaceChildren(...m.rooms.map((r) => el('option', { value: r.name })));
      for (const room of state.rooms) joinRoom(room);
      break;
    case 'joined': {
      joined.add(m.room);
      members.set(m.room, m.members);
      const last = state.lastIds[m.room];
      if (last !== undefined && m.head < last) {
        // The server's history restarted: our ids mean nothing any more.
        state.log[m.room] = [];
        state.lastIds[m.room] = 0;
        if (m.room === state.current) renderRoom();
      }
      if (m.truncated) addDivider(m.room, 'some messages were lost while you were away');
      for (const frame of outbox.splice(0)) send(frame);
      renderSidebar();
      break;
    }
    case 'left':
      break;
    case 'presence': {
      // Changes to the list `joined` carried: who went, who came (or changed nick).
      const gone = new Set(m.left);
      const list = (members.get(m.room) ?? []).filter((x) => !gone.has(x.id));
      for (const member of m.joined) {
        const at = list.findIndex((x) => x.id === member.id);
        if (at >= 0) list[at] = member;
        else list.push(member);
      }
      members.set(m.room, list);
      for (const id of m.left) typing.get(m.room)?.delete(id);
      renderSidebar();
      renderTyping();
      break;
    }
    case 'typing': {
      if (m.from.id === myId) break;
      const map = typing.get(m.room) ?? new Map();
      typing.set(m.room, map);
      if (m.typing) map.set(m.from.id, { nick: m.from.nick, until: Date.now() + 6000 });
      else map.delete(m.from.id);
      renderTyping();
      break;
    }
    case 'msg':
      addMessage(m);
      break;
    case 'file':
      pendingFile = m;
      break;
    case 'error':
      notice(m.message);
      break;
  }
}

function onBinary(buffer) {
  const meta = pendingFile;
  pendingFile = null;
  if (!meta) return;
  addMessage(meta, new Blob([buffer], { type: meta.mime }));
}

/** Each message once, in id order: anything at or below the last id seen is a duplicate. */
function addMessage(m, blob) {
  const last = state.lastIds[m.room] ?? 0;
  if (m.id <= last) return;
  state.lastIds[m.room] = m.id;
  const entry = { ...m };
  if (blob) entry.url = URL.createObjectURL(blob);
  state.log[m.room] ??= [];
  const log = state.log[m.room];
  log.push(entry);
  if (log.length > LOG_PER_ROOM) log.splice(0, log.length - LOG_PER_ROOM);
  typing.get(m.room)?.delete(m.from.id);
  if (m.room === state.current) {
    appendMessage(entry);
    renderTyping();
  } else {
    unread.set(m.room, (unread.get(m.room) ?? 0) + 1);
    renderSidebar();
  }
  saveState();
}

function addDivider(room, text) {
  if (room === state.current) appendNode(el('li', { className: 'divider', textContent: text }));
}

function joinRoom(room) {
  const since = state.lastIds[room];
  send(since === undefined ? { type: 'join', room } : { type: 'join', room, since });
}

// ---------------------------------------------------------------- rendering

function renderSidebar() {
  $('me-nick').textContent = state.nick ?? '';
  $('rooms').replaceChildren(
    ...state.rooms.map((room) => {
      const count = unread.get(room) ?? 0;
      const leave = el('button', {
        className: 'leave',
        type: 'button',
        title: `leave #${room}`,
        textContent: '×',
      });
      leave.onclick = (event) => {
        event.stopPropagation();
        leaveRoom(room);
      };
      const li = el(
        'li',
        { title: joined.has(room) ? '' : 'joining…' },
        el('span', { className: 'name', textContent: `# ${room}` }),
        count ? el('span', { className: 'badge', textContent: String(count) }) : null,
        leave,
      );
      li.dataset.room = room;
      li.setAttribute('aria-current', String(room === state.current));
      li.onclick = () => switchRoom(room);
      return li;
    }),
  );
  // One line per nickname, however many tabs it has open.
  const list = members.get(state.current) ?? [];
  const nicks = [...new Set(list.map((m) => m.nick))].sort((a, b) => a.localeCompare(b));
  $('members').replaceChildren(
    ...nicks.map((nick) => el('li', { textContent: nick === state.nick ? `${nick} (you)` : nick })),
  );
  $('online-count').textContent = nicks.length ? `(${nicks.length})` : '';
}

function renderRoom() {
  $('room-title').textContent = state.current ? `# ${state.current}` : '';
  $('messages').replaceChildren();
  for (const entry of state.log[state.current] ?? []) appendMessage(entry);
  renderTyping();
}

function appendNode(node) {
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.append(node);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function appendMessage(entry) {
  const mine = entry.from.nick === state.nick;
  const time = new Date(entry.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const body = el('div', { className: 'body' });
  if (entry.type === 'msg') body.textContent = entry.text;
  else if (entry.url && entry.mime.startsWith('image/')) {
    const img = el('img', {
      src: entry.url,
      alt: entry.name,
      title: `${entry.name} · ${formatSize(entry.size)}`,
    });
    img.addEventListener('load', () => {
      const list = $('messages');
      list.scrollTop = list.scrollHeight;
    });
    body.append(img);
  } else if (entry.url) {
    body.append(
      el('a', { href: entry.url, download: entry.name, textContent: `📎 ${entry.name}` }),
      ` · ${formatSize(entry.size)}`,
    );
  } else {
    body.append(
      el('span', {
        className: 'file-gone',
        textContent: `📎 ${entry.name} · ${formatSize(entry.size)} (not kept across reloads)`,
      }),
    );
  }
  const li = el(
    'li',
    { className: `msg${mine ? ' mine' : ''}` },
    el('div', { className: 'meta' }, el('strong', { textContent: entry.from.nick }), time),
    body,
  );
  li.dataset.id = String(entry.id);
  li.dataset.type = entry.type;
  appendNode(li);
}

function renderTyping() {
  const now = Date.now();
  const map = typing.get(state.current);
  const nicks = [];
  for (const [id, t] of map ?? []) {
    if (t.until < now) map.delete(id);
    else if (!nicks.includes(t.nick)) nicks.push(t.nick);
  }
  $('typing').textContent =
    nicks.length === 0
      ? ''
      : nicks.length === 1
        ? `${nicks[0]} is typing…`
        : `${nicks.slice(0, 3).join(', ')} are typing…`;
}
setInterval(renderTyping, 2000);

function notice(text) {
  const node = $('notice');
  node.textContent = text;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => {
    node.textContent = '';
  }, 5000);
}

function formatSize(bytes) {
  return bytes < 1024
    ? `${bytes} B`
    : bytes < 1048576
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${(bytes / 1048576).toFixed(1)} MiB`;
}

// ---------------------------------------------------------------- actions

function switchRoom(room) {
  state.current = room;
  unread.delete(room);
  saveState();
  renderSidebar();
  renderRoom();
  $('text').focus();
}

function addRoom(raw) {
  const room = raw.trim().toLowerCase().replace(/\s+/g, '-');
  if (!ROOM_PATTERN.test(room)) {
    notice('room names: a–z, 0–9, "-" and "_", up to 32');
    return false;
  }
  if (!state.rooms.includes(room)) {
    state.rooms.push(room);
    joinRoom(room);
  }
  switchRoom(room);
  return true;
}

function leaveRoom(room) {
  send({ type: 'leave', room });
  state.rooms = state.rooms.filter((r) => r !== room);
  delete state.lastIds[room];
  delete state.log[room];
  joined.delete(room);
  members.delete(room);
  if (state.current === room) state.current = state.rooms[0] ?? null;
  saveState();
  renderSidebar();
  renderRoom();
}

function sendTyping(active) {
  if (!state.current || !joined.has(state.current)) return;
  send({ type: 'typing', room: state.current, typing: active });
}

$('text').addEventListener('input', () => {
  const now = Date.now();
  if ($('text').value === '') {
    if (typingSentAt) sendTyping(false);
    typingSentAt = 0;
    return;
  }
  if (now - typingSentAt > 2500) {
    typingSentAt = now;
    sendTyping(true);
  }
  clearTimeout(typingStopTimer);
  typingStopTimer = setTimeout(() => {
    typingSentAt = 0;
    sendTyping(false);
  }, 3000);
});

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('text').value;
  if (!text.trim() || !state.current) return;
  const frame = { type: 'msg', room: state.current, text };
  if (!(joined.has(state.current) && send(frame))) {
    outbox.push(frame);
    notice('offline: the message goes out when the connection is back');
  }
  $('text').value = '';
  clearTimeout(typingStopTimer);
  typingSentAt = 0;
});

async function sendFile(file) {
  if (!file || !state.current) return;
  if (file.size === 0) return notice('that file is empty');
  if (file.size > MAX_FILE_BYTES) return notice(`files are limited to ${formatSize(MAX_FILE_BYTES)}`);
  if (!ws || ws.readyState !== WebSocket.OPEN || !joined.has(state.current))
    return notice('offline: try again when connected');
  const bytes = await file.arrayBuffer();
  const mime = /^[\w.+-]+\/[\w.+-]+$/.test(file.type) ? file.type : 'application/octet-stream';
  // The announcement and its bytes go out back to back: nothing can come between them.
  send({
    type: 'file',
    room: state.current,
    name: file.name.slice(0, 200) || 'file',
    mime,
    size: bytes.byteLength,
  });
  ws.send(bytes);
}

$('attach').addEventListener('click', () => $('file').click());
$('file').addEventListener('change', () => {
  const file = $('file').files?.[0];
  $('file').value = '';
  void sendFile(file);
});
const chatPane = document.querySelector('.chat');
chatPane.addEventListener('dragover', (event) => {
  event.preventDefault();
  chatPane.classList.add('dragging');
});
chatPane.addEventListener('dragleave', () => chatPane.classList.remove('dragging'));
chatPane.addEventListener('drop', (event) => {
  event.preventDefault();
  chatPane.classList.remove('dragging');
  void sendFile(event.dataTransfer?.files?.[0]);
});
$('text').addEventListener('paste', (event) => {
  const file = [...(event.clipboardData?.files ?? [])][0];
  if (file) {
    event.preventDefault();
    void sendFile(file);
  }
});

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (addRoom($('join-room').value)) $('join-room').value = '';
});

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const nick = $('login-nick').value.trim();
  if (!NICK_PATTERN.test(nick)) {
    $('login-error').textContent = 'nickname: 1–24 letters, digits, spaces, "_", "-" or "."';
    return;
  }
  const room = $('login-room').value.trim().toLowerCase();
  if (!ROOM_PATTERN.test(room)) {
    $('login-error').textContent = 'room: a–z, 0–9, "-" and "_", up to 32';
    return;
  }
  state.nick = nick;
  state.rooms = [room];
  state.current = room;
  saveState();
  start();
});

function start() {
  $('login').hidden = true;
  $('app').hidden = false;
  renderSidebar();
  renderRoom();
  connect();
  $('text').focus();
}

if (state.nick) start();
else {
  $('login').hidden = false;
  $('login-nick').focus();
}
