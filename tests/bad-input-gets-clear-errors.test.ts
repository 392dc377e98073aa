import { connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { token } from './support/tokens';
import { cleanUpAfterEach } from './support/lifecycle';

cleanUpAfterEach();

describe('bad input gets a clear error and the socket stays usable', () => {
  it('answers wrong payload types and missing fields with INVALID_MESSAGE and the zod issue paths', async () => {
    const gw = await startGateway();
    const socket = await connectV4(urlOf(gw), token({ sub: 'a' }));
    expect(await request(socket, 'join_room', { room_id: 42 })).toEqual({
      ok: false,
      error: {
        code: 'INVALID_MESSAGE',
        message: 'Invalid join_room: room_id: Expected string, received number',
        issues: [{ path: 'room_id', message: 'Expected string, received number' }],
      },
    });
    const missing = await request(socket, 'join_room', {});
    expect(missing.error.code).toBe('INVALID_MESSAGE');
    expect(missing.error.issues).toEqual([{ path: 'room_id', message: 'Required' }]);
    const badEnum = await request(socket, 'status_update', { status: 'sleeping' });
    expect(badEnum.error.issues[0].path).toBe('status');
    const notObject = await request(socket, 'join_room', 'room-1');
    expect(notObject.error).toMatchObject({ code: 'INVALID_MESSAGE', issues: [{ path: '' }] });
    expect(await request(socket, 'join_room', { room_id: 'ok' })).toMatchObject({ ok: true });
  });

  it('answers an unknown event with UNKNOWN_MESSAGE_TYPE', async () => {
    const gw = await startGateway();
    const socket = await connectV4(urlOf(gw), token({ sub: 'a' }));
    expect(await request(socket, 'launch_missiles', {})).toEqual({
      ok: false,
      error: { code: 'UNKNOWN_MESSAGE_TYPE', message: 'Unsupported message type: launch_missiles' },
    });
    expect((await request(socket, 'join_room', { room_id: 'r' })).ok).toBe(true);
  });

  it('sends an error event when the message had no ack callback', async () => {
    const gw = await startGateway();
    const socket = await connectV4(urlOf(gw), token({ sub: 'a' }));
    const error = waitFor(socket, 'error');
    socket.emit('leave_room', { room_id: 'never-joined' });
    expect(await error).toEqual({
      type: 'error',
      code: 'NOT_IN_ROOM',
      error: 'Not in room never-joined',
      room_id: 'never-joined',
      message_type: 'leave_room',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const legacy = await connectV2(urlOf(gw), token({ sub: 'b' }));
    const legacyError = waitFor(legacy, 'error');
    legacy.emit('typing_start', { room: 5 });
    expect(await legacyError).toMatchObject({ code: 'INVALID_MESSAGE', message_type: 'typing_start' });
  });

  it('refuses a message over MAX_MESSAGE_BYTES with MESSAGE_TOO_LARGE, and keeps the connection', async () => {
    const gw = await startGateway({ MAX_MESSAGE_BYTES: '1024' });
    const socket = await connectV4(urlOf(gw), token({ sub: 'a' }));
    const big = await request(socket, 'join_room', { room_id: 'r', padding: 'x'.repeat(4000) });
    expect(big.error).toMatchObject({ code: 'MESSAGE_TOO_LARGE', limit: 1024 });
    const multiByte = await request(socket, 'join_room', { room_id: 'r', padding: 'é'.repeat(600) });
    expect(multiByte.error.code).toBe('MESSAGE_TOO_LARGE');
    expect((await request(socket, 'join_room', { room_id: 'r' })).ok).toBe(true);
    expect(socket.connected).toBe(true);
  });

  it('survives a burst of hostile payloads on one connection', async () => {
    const gw = await startGateway();
    const socket = await connectV4(urlOf(gw), token({ sub: 'a' }));
    const hostile: unknown[] = [
      null,
      [],
      42,
      { room_id: null },
      { room_id: 'x'.repeat(10_000) },
      { room_id: '\u0000' },
      JSON.parse('{"__proto__": {"polluted": true}, "room_id": "p"}'),
      { constructor: { prototype: { polluted: true } }, room_id: 'q' },
      { status: { $gt: '' } },
      { room: 'r', cell_id: 1e308 },
    ];
    const types = ['join_room', 'leave_room', 'status_update', 'typing_start', 'typing_stop', 'nope'];
    const answers = await Promise.all(types.flatMap((t) => hostile.map((p) => request(socket, t, p))));
    expect(answers).toHaveLength(types.length * hostile.length);
    for (const a of answers) expect(typeof a.ok).toBe('boolean');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await request(socket, 'join_room', { room_id: 'still-fine' })).ok).toBe(true);
  });
});
