// Test-only wechaty puppet-service gateway for the wire-level tests of bot/adapters/wechat.py.
//
// Serves `wechaty-puppet-mock` (a fake WeChat account) through `PuppetServer` from the npm package
// `wechaty-puppet-service` (the real 1.x gRPC server that production gateways run) on 127.0.0.1 with
// TLS off, so the Python `wechaty` 0.10 client talks the real wire protocol.
//
//   WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER=true node gateway.mjs --port 18788 --token TOKEN
//
// Control channel: one JSON object per line on stdin; every answer and event is one JSON object per
// line on stdout:
//   {"event": "listening", "port": N}                 once the gRPC server accepts connections
//   {"event": "sent", "id", "conversation", "room", "to", "text", "mentions", "ts"}   the bot said something
//   {"event": "login" | "logout", ...}                the mock account state changed
//   {"reply": SEQ, "ok": true, ...} / {"reply": SEQ, "ok": false, "error": "..."}   answer to a command
// Commands (each may carry "seq", echoed in the reply):
//   {"cmd": "say", "from": ID, "room": ROOM_ID, "text": T, "mentions": [IDS]}   a member speaks in a room
//   {"cmd": "say", "from": ID, "text": T}             a contact writes to the bot privately
//   {"cmd": "image", "from": ID, "room": ROOM_ID?}    an image (small PNG, base64 file box)
//   {"cmd": "file", "from": ID, "room": ROOM_ID?, "name": "x.pdf"}   an attachment
//   {"cmd": "message", "from": ID, "room": ROOM_ID?, "type": N, "text": T}   any raw 1.x message type
//   {"cmd": "error", "gerror": "..."}                 the puppet emits an error event ({gerror} only, as 1.x does)
//   {"cmd": "topic", "room": ROOM_ID, "topic": T, "by": ID}
//   {"cmd": "add_bot", "room": NEW_ROOM_ID, "topic": T, "by": ID}            the bot is added to a new room
//   {"cmd": "logout"}                                 the account is logged out (the next Start logs it in)
//   {"cmd": "sent"}                                   reply carries every message the bot sent so far
//   {"cmd": "quit"}                                   stop the server and exit 0
import { randomUUID } from 'node:crypto'
import readline from 'node:readline'

import * as PUPPET from 'wechaty-puppet'
import { PuppetMock, mock } from 'wechaty-puppet-mock'
import { PuppetServer } from 'wechaty-puppet-service'
import { FileBox } from 'file-box'

function arg (name, dflt) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}

const PORT = Number(arg('port', '18788'))
const TOKEN = arg('token', 'shanzhi-test-token')
const BOT_ID = arg('bot-id', 'wxid_bot')

function out (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

// A 1x1 PNG: small enough to stay a base64 file box (a 1.x server turns boxes over 20 KB into UUID boxes).
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='

const mocker = new mock.Mocker()
const sent = []

class GatewayPuppet extends PuppetMock {
  async onStart () {
    await super.onStart()
    // The Python client calls Stop then Start on every connect, and Stop logs the account out:
    // like a real gateway with a cached session, log back in on every Start.
    setImmediate(() => {
      if (!this.isLoggedIn) {
        mocker.login(mocker.ContactMock.load(BOT_ID))
      }
    })
  }

  async messageSendText (conversationId, text, mentionIdList) {
    if (!this.isLoggedIn) {
      throw new Error('not logged in')
    }
    const isRoom = /@chatroom$/.test(conversationId)
    if (!isRoom) {
      let payload
      try {
        payload = mocker.contactPayload(conversationId)
      } catch (e) {
        payload = undefined
      }
      if (!payload) {
        throw new Error(`contact ${conversationId} not found`)
      }
      if (payload.friend === false) {
        throw new Error(`contact ${conversationId} is not a friend`)
      }
    }
    const id = 'gw-sent-' + randomUUID()
    const record = {
      event: 'sent',
      id,
      conversation: conversationId,
      room: isRoom ? conversationId : null,
      to: isRoom ? null : conversationId,
      text,
      mentions: mentionIdList || [],
      ts: Date.now(),
    }
    sent.push(record)
    out(record)
    const payload = {
      id,
      talkerId: this.currentUserId,
      timestamp: Date.now(),
      type: PUPPET.types.Message.Text,
      text,
      ...(isRoom ? { roomId: conversationId, mentionIdList: mentionIdList || [] } : { listenerId: conversationId }),
    }
    mocker.MessageMock.create(payload)
    // Real accounts echo the bot's own messages back as message events: so does this gateway.
    this.emit('message', { messageId: id })
    return id
  }
}

const puppet = new GatewayPuppet({ mocker })
puppet.on('login', p => out({ event: 'login', contactId: p.contactId }))
puppet.on('logout', p => out({ event: 'logout', contactId: p.contactId }))

// The cast: ids match org.yaml's wechat accounts.
const people = [
  { id: BOT_ID, name: '善治助手' },
  { id: 'wxid_wang', name: '王大妈' },
  { id: 'wxid_liu_resident', name: '刘大爷' },
  { id: 'wxid_li', name: '李网格' },
  { id: 'wxid_zhao', name: '赵网格' },
  { id: 'wxid_zhang', name: '张主任' },
  { id: 'wxid_qian', name: '钱主任' },
  { id: 'wxid_admin', name: '周管理' },
  { id: 'wxid_stranger', name: '陌生人', friend: false },
]
for (const p of people) {
  mocker.createContact({ id: p.id, name: p.name, alias: '', friend: p.friend !== false, type: PUPPET.types.Contact.Individual })
}
const allIds = people.map(p => p.id)
mocker.createRoom({ id: 'room_heping@chatroom', topic: '和平村群', memberIdList: allIds, ownerId: 'wxid_admin', adminIdList: [] })
mocker.createRoom({ id: 'room_shiqiao@chatroom', topic: '石桥村群', memberIdList: allIds, ownerId: 'wxid_admin', adminIdList: [] })

function say (from, something, room, mentions = []) {
  const contact = mocker.ContactMock.load(from)
  const conversation = room ? mocker.RoomMock.load(room) : mocker.ContactMock.load(BOT_ID)
  const before = new Set(mocker.cacheMessagePayload.keys())
  contact.say(something, mentions.map(id => mocker.ContactMock.load(id))).to(conversation)
  const created = [...mocker.cacheMessagePayload.keys()].filter(k => !before.has(k))
  return created[0]
}

async function handle (cmd) {
  switch (cmd.cmd) {
    case 'say':
      return { id: say(cmd.from, cmd.text, cmd.room, cmd.mentions || []) }
    case 'image':
      return { id: say(cmd.from, FileBox.fromBase64(PNG_1x1, cmd.name || 'photo.png'), cmd.room) }
    case 'file':
      return { id: say(cmd.from, FileBox.fromBase64(Buffer.from('%PDF-1.4 test').toString('base64'), cmd.name || 'report.pdf'), cmd.room) }
    case 'message': {
      // any raw message type of wechaty-puppet 1.x (e.g. 2 Audio, 11 Transfer, 12 RedEnvelope, 16 Post)
      const id = 'gw-msg-' + randomUUID()
      const payload = {
        id,
        talkerId: cmd.from,
        timestamp: Date.now(),
        type: cmd.type,
        text: cmd.text || '',
        ...(cmd.room ? { roomId: cmd.room, mentionIdList: [] } : { listenerId: BOT_ID }),
      }
      mocker.MessageMock.create(payload)
      puppet.emit('message', { messageId: id })
      return { id }
    }
    case 'error':
      puppet.emit('error', { gerror: cmd.gerror || 'mock gateway error' })
      return {}
    case 'topic': {
      const room = mocker.RoomMock.load(cmd.room)
      room.topic(cmd.topic).by(mocker.ContactMock.load(cmd.by))
      return {}
    }
    case 'add_bot': {
      const room = mocker.createRoom({ id: cmd.room, topic: cmd.topic, memberIdList: [cmd.by], ownerId: cmd.by, adminIdList: [] })
      room.add(mocker.ContactMock.load(BOT_ID)).by(mocker.ContactMock.load(cmd.by))
      return {}
    }
    case 'logout':
      await puppet.logout('logout requested by the test')
      return {}
    case 'sent':
      return { sent }
    case 'quit':
      setImmediate(async () => {
        try { await server.stop() } catch (e) { /* going anyway */ }
        process.exit(0)
      })
      return {}
    default:
      throw new Error('unknown command ' + cmd.cmd)
  }
}

const server = new PuppetServer({ endpoint: `127.0.0.1:${PORT}`, puppet, token: TOKEN })
await server.start()
out({ event: 'listening', port: PORT })

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async line => {
  line = line.trim()
  if (!line) return
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch (e) {
    out({ reply: null, ok: false, error: 'bad json: ' + e.message })
    return
  }
  try {
    const result = await handle(cmd)
    out({ reply: cmd.seq ?? null, ok: true, ...result })
  } catch (e) {
    out({ reply: cmd.seq ?? null, ok: false, error: String(e && e.message ? e.message : e) })
  }
})
rl.on('close', async () => {
  // The test went away: do not linger.
  try { await server.stop() } catch (e) { /* ignore */ }
  process.exit(0)
})
