import { Writable } from 'node:stream';
import winston from 'winston';
import { loadConfig } from '../server/config';
import { createGateway } from '../server/gateway';
import { connectV2, connectV4, request } from './support/clients';
import { FakeBackend, type Answer } from './support/fake-backend';
import { startGateway, testEnv, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { closeNatives, connectAgents, connectCalculations } from './support/native';
import { freePort } from './support/redis';
import { token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());

let backend: FakeBackend;
beforeEach(async () => {
  backend = await FakeBackend.start();
});
afterEach(async () => {
  await backend.close();
});

/** The gateway of these tests: calculations and one custom route on the fake backend, a 500 ms timeout. */
const backendEnv = (overrides: Record<string, string> = {}) => ({
  CALCULATIONS_URL: `${backend.url}/calculate`,
  RPC_ROUTES: JSON.stringify({ get_quote: `${backend.url}/quote` }),
  RPC_TIMEOUT_MS: '500',
  ...overrides,
});

const calculation = { chart_id: 'chart-123', calculation_type: 'positions', parameters: { planets: ['SUN', 'MOON'] } };
const POSITIONS = { planets: [{ name: 'SUN', longitude: 280.4 }, { name: 'MOON', longitude: 12.9 }] };

/** A promise with its resolver, for a backend answer the test releases. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('seed 000 calculations are POSTed to CALCULATIONS_URL with the caller identity', () => {
  it('answers the backend JSON on /calculations (ack) and on the native endpoint ({status: "success"})', async () => {
    backend.answer('/calculate', { body: POSITIONS });
    const gw = await startGateway(backendEnv());
    const astroToken = token({ sub: 'astro' });
    const sio = await connectV4(urlOf(gw), astroToken, { namespace: '/calculations' });
    expect(await request(sio, 'calculate', calculation)).toEqual({ ok: true, result: POSITIONS });

    const sent = await backend.request('/calculate');
    expect(sent.method).toBe('POST');
    expect(sent.headers.authorization).toBe(`Bearer ${astroToken}`);
    expect(sent.headers['x-user-id']).toBe('astro');
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.body).toEqual(calculation);

    const otherToken = token({ sub: 'other-astro' });
    const native = await connectCalculations(gw, otherToken);
    native.send({ chart_id: 'chart-9', calculation_type: 'houses' });
    expect(await native.next((f) => f.status !== undefined)).toEqual({ status: 'success', calculation_type: 'houses', chart_id: 'chart-9', result: POSITIONS });
    const second = await backend.request('/calculate', 1);
    expect(second.headers.authorization).toBe(`Bearer ${otherToken}`);
    expect(second.headers['x-user-id']).toBe('other-astro');
    // The schema's default: a request without parameters is sent with an empty object.
    expect(second.body).toEqual({ chart_id: 'chart-9', calculation_type: 'houses', parameters: {} });
  });

  it("maps the backend's refusals and failures to error codes, on both channels", async () => {
    const gw = await startGateway(backendEnv());
    const sio = await connectV4(urlOf(gw), token({ sub: 'astro' }), { namespace: '/calculations' });
    const native = await connectCalculations(gw, token({ sub: 'astro-native' }));
    const cases: Array<{ answer: Answer; code: string; message: string; details?: Record<string, unknown> }> = [
      { answer: { status: 403, body: { detail: 'Not authorized to access this chart' } }, code: 'PERMISSION_DENIED', message: 'Not authorized to access this chart', details: { status: 403 } },
      { answer: { status: 401, body: { message: 'Token expired' } }, code: 'PERMISSION_DENIED', message: 'Token expired', details: { status: 401 } },
      {
        // FastAPI's validation error list.
        answer: { status: 422, body: { detail: [{ loc: ['body', 'parameters', 'planets', 0], msg: 'value is not a valid enumeration member', type: 'type_error.enum' }] } },
        code: 'INVALID_MESSAGE',
        message: 'parameters.planets.0: value is not a valid enumeration member',
        details: { status: 422 },
      },
      { answer: { status: 400, body: { detail: 'Unknown house system' } }, code: 'INVALID_MESSAGE', message: 'Unknown house system', details: { status: 400 } },
      { answer: { status: 404, raw: 'no such chart' }, code: 'INVALID_MESSAGE', message: 'Backend refused the request (HTTP 404)', details: { status: 404 } },
      // A 5xx's body is the backend's internals: the client is told the status only.
      { answer: { status: 500, body: { detail: 'Traceback: psycopg2.OperationalError at db-7' } }, code: 'UPSTREAM_UNAVAILABLE', message: 'Backend unavailable: HTTP 500', details: { status: 500 } },
      { answer: { status: 503, raw: 'Service Unavailable' }, code: 'UPSTREAM_UNAVAILABLE', message: 'Backend unavailable: HTTP 503', details: { status: 503 } },
      { answer: { status: 200, raw: '<html>login</html>' }, code: 'UPSTREAM_UNAVAILABLE', message: 'Backend unavailable: HTTP 200 with a body that is not JSON', details: { status: 200 } },
      { answer: { status: 302, body: {}, headers: { location: 'http://127.0.0.1:1/elsewhere' } }, code: 'UPSTREAM_UNAVAILABLE', message: 'Backend unavailable: HTTP 302 (redirects are not followed)', details: { status: 302 } },
      { answer: { hang: true }, code: 'UPSTREAM_UNAVAILABLE', message: 'Backend unavailable: no answer within 500 ms', details: { timeout_ms: 500 } },
    ];
    for (const c of cases) {
      backend.answer('/calculate', c.answer);
      const ack = await request(sio, 'calculate', calculation);
      expect(ack).toEqual({ ok: false, error: { code: c.code, message: c.message, ...c.details } });
      native.send(calculation);
      expect(await native.next((f) => f.status !== undefined)).toEqual({
        ...c.details,
        status: 'error',
        code: c.code,
        message: c.message,
        calculation_type: 'positions',
        chart_id: 'chart-123',
      });
    }
    // The redirect was not followed (the caller's token goes to CALCULATIONS_URL only).
    expect(backend.requests.every((r) => r.path === '/calculate')).toBe(true);
  });

  it('answers UPSTREAM_UNAVAILABLE when nothing listens at CALCULATIONS_URL', async () => {
    const gw = await startGateway(backendEnv({ CALCULATIONS_URL: `http://127.0.0.1:${await freePort()}/calculate` }));
    const sio = await connectV4(urlOf(gw), token({ sub: 'astro' }), { namespace: '/calculations' });
    expect(await request(sio, 'calculate', calculation)).toEqual({
      ok: false,
      error: { code: 'UPSTREAM_UNAVAILABLE', message: 'Backend unavailable: connection refused' },
    });
    const native = await connectCalculations(gw, token({ sub: 'astro-native' }));
    native.send(calculation);
    expect(await native.next((f) => f.status !== undefined)).toEqual({
      status: 'error',
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'Backend unavailable: connection refused',
      calculation_type: 'positions',
      chart_id: 'chart-123',
    });
  });

  it('without CALCULATIONS_URL, answers UPSTREAM_UNAVAILABLE naming the variable', async () => {
    const gw = await startGateway();
    const sio = await connectV4(urlOf(gw), token({ sub: 'astro' }), { namespace: '/calculations' });
    const ack = await request(sio, 'calculate', calculation);
    expect(ack.error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(ack.error.message).toContain('CALCULATIONS_URL');
  });

  it('keeps one TCP connection to the backend alive for successive calls of every client', async () => {
    backend.answer('/calculate', { body: POSITIONS }).answer('/quote', { body: { price: 1 } });
    const gw = await startGateway(backendEnv());
    const sio = await connectV4(urlOf(gw), token({ sub: 'astro' }), { namespace: '/calculations' });
    const root = await connectV4(urlOf(gw), token({ sub: 'trader' }));
    const native = await connectCalculations(gw, token({ sub: 'astro-native' }));
    for (let i = 0; i < 4; i++) {
      expect((await request(sio, 'calculate', calculation)).ok).toBe(true);
      expect((await request(root, 'get_quote', { symbol: 'ACME' })).ok).toBe(true);
      native.send(calculation);
      expect((await native.next((f) => f.status !== undefined)).status).toBe('success');
    }
    expect(backend.requests).toHaveLength(12);
    expect(backend.connections).toBe(1);
    expect(new Set(backend.requests.map((r) => r.connection))).toEqual(new Set([1]));
  });
});

describe('RPC_ROUTES: custom message types proxied to their backend', () => {
  it('serves a route on Socket.IO / (v4 and v2 acks) and on seed 001 /ws (correlated ack), with identity and errors', async () => {
    backend.answer('/quote', (req) => ({ body: { symbol: (req.body as { symbol: string }).symbol, price: 42.5 } }));
    const gw = await startGateway(backendEnv());
    const traderToken = token({ sub: 'trader' });
    const sio = await connectV4(urlOf(gw), traderToken);
    expect(await request(sio, 'get_quote', { symbol: 'ACME' })).toEqual({ ok: true, result: { symbol: 'ACME', price: 42.5 } });
    const sent = await backend.request('/quote');
    expect(sent.body).toEqual({ symbol: 'ACME' });
    expect(sent.headers.authorization).toBe(`Bearer ${traderToken}`);
    expect(sent.headers['x-user-id']).toBe('trader');

    const legacy = await connectV2(urlOf(gw), token({ sub: 'legacy-trader' }));
    expect(await request(legacy, 'get_quote', { symbol: 'OLD' })).toEqual({ ok: true, result: { symbol: 'OLD', price: 42.5 } });
    expect((await backend.request('/quote', 1)).headers['x-user-id']).toBe('legacy-trader');

    // Feature namespaces accept their catalogue types only.
    const calc = await connectV4(urlOf(gw), traderToken, { namespace: '/calculations' });
    expect((await request(calc, 'get_quote', { symbol: 'ACME' })).error).toMatchObject({ code: 'UNKNOWN_MESSAGE_TYPE' });

    const agent = await connectAgents(gw, token({ sub: 'agent-user' }));
    agent.send({ type: 'get_quote', payload: { symbol: 'NATV' }, correlation_id: 'q-1' });
    expect(await agent.next('ack')).toMatchObject({
      type: 'ack',
      payload: { message_type: 'get_quote', result: { symbol: 'NATV', price: 42.5 } },
      correlation_id: 'q-1',
    });
    expect((await backend.request('/quote', 2)).headers['x-user-id']).toBe('agent-user');

    backend.answer('/quote', { status: 403, body: { detail: 'No market data subscription' } });
    expect(await request(sio, 'get_quote', { symbol: 'ACME' })).toEqual({
      ok: false,
      error: { code: 'PERMISSION_DENIED', message: 'No market data subscription', status: 403 },
    });
    agent.send({ type: 'get_quote', payload: { symbol: 'NATV' }, correlation_id: 'q-2' });
    expect(await agent.next('error')).toMatchObject({
      payload: { code: 'PERMISSION_DENIED', error: 'No market data subscription', message_type: 'get_quote' },
      correlation_id: 'q-2',
    });
  });

  it('refuses to start with a route that shadows a catalogue message type', async () => {
    await expect(startGateway(backendEnv({ RPC_ROUTES: JSON.stringify({ join_room: `${backend.url}/join` }) }))).rejects.toThrow(
      /join_room.*shadows/,
    );
  });

  it('bounds the backend calls in flight per connection, shared by calculations and routes', async () => {
    const held = deferred<Answer>();
    backend.answer('/quote', () => held.promise).answer('/calculate', { body: POSITIONS });
    const gw = await startGateway(backendEnv({ RPC_MAX_IN_FLIGHT_PER_CONNECTION: '1', RPC_TIMEOUT_MS: '10000' }));
    const sio = await connectV4(urlOf(gw), token({ sub: 'trader' }));
    const first = request(sio, 'get_quote', { symbol: 'SLOW' });
    await backend.request('/quote');
    const refused = { code: 'RATE_LIMIT_EXCEEDED', retry_after_ms: 250, limit: 1 };
    expect((await request(sio, 'get_quote', { symbol: 'FAST' })).error).toMatchObject(refused);
    expect((await request(sio, 'calculate', calculation)).error).toMatchObject(refused);
    // Another connection of the same user has its own bound.
    const other = await connectV4(urlOf(gw), token({ sub: 'trader' }));
    expect(await request(other, 'calculate', calculation)).toEqual({ ok: true, result: POSITIONS });

    held.resolve({ body: { price: 7 } });
    expect(await first).toEqual({ ok: true, result: { price: 7 } });
    expect(await request(sio, 'calculate', calculation)).toEqual({ ok: true, result: POSITIONS });
    // The refused calls never reached the backend.
    expect(backend.requests.map((r) => r.path)).toEqual(['/quote', '/calculate', '/calculate']);
  });

  it('aborts the backend request when its caller disconnects', async () => {
    backend.answer('/calculate', { hang: true }).answer('/quote', { hang: true });
    const gw = await startGateway(backendEnv({ RPC_TIMEOUT_MS: '20000' }));

    const sio = await connectV4(urlOf(gw), token({ sub: 'astro' }), { namespace: '/calculations' });
    sio.emit('calculate', calculation, () => undefined);
    await backend.request('/calculate');
    let left = Date.now();
    sio.close();
    await backend.requestClosed('/calculate', 0, 1000);
    expect(Date.now() - left).toBeLessThan(1000);

    const native = await connectCalculations(gw, token({ sub: 'astro-native' }));
    native.send(calculation);
    await backend.request('/calculate', 1);
    left = Date.now();
    native.close();
    await backend.requestClosed('/calculate', 1, 1000);
    expect(Date.now() - left).toBeLessThan(1000);

    const agent = await connectAgents(gw, token({ sub: 'agent-user' }));
    agent.send({ type: 'get_quote', payload: { symbol: 'X' }, correlation_id: 1 });
    await backend.request('/quote');
    agent.close();
    await backend.requestClosed('/quote', 0, 1000);
  });

  it('logs each call at debug level without the caller token', async () => {
    backend.answer('/quote', { body: { price: 1 } }).answer('/calculate', { status: 403, body: { detail: 'no' } });
    let logged = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });
    const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
    const gw = await createGateway(loadConfig(testEnv({ ...backendEnv(), LOG_LEVEL: 'debug' })), { logger });
    try {
      const secretToken = token({ sub: 'trader' });
      const sio = await connectV4(urlOf(gw), secretToken);
      expect((await request(sio, 'get_quote', { symbol: 'ACME' })).ok).toBe(true);
      expect((await request(sio, 'calculate', calculation)).error).toMatchObject({ code: 'PERMISSION_DENIED' });
      const calls = logged
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
        .filter((l) => l.module === 'rpc');
      expect(calls).toEqual([
        expect.objectContaining({ level: 'debug', message: 'backend call', url: `${backend.url}/quote`, user_id: 'trader', status: 200, outcome: 'ok' }),
        expect.objectContaining({ level: 'debug', message: 'backend call', url: `${backend.url}/calculate`, status: 403, outcome: 'PERMISSION_DENIED' }),
      ]);
      expect(logged).not.toContain(secretToken);
      expect(logged).not.toContain(secretToken.split('.')[2]);
    } finally {
      await gw.close();
    }
  });
});
