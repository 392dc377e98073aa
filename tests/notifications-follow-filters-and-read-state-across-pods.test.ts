import type { Gateway } from '../server/gateway';
import { collect, connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, stopGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectWorkspace, type NativeClient } from './support/native';
import { adminToken, token } from './support/tokens';

const redis = useRedis();
cleanUpAfterEach();
afterEach(closeNatives);
let redisClient: Awaited<ReturnType<typeof redis.server.client>>;
beforeAll(async () => {
  redisClient = await redis.server.client();
});
beforeEach(async () => {
  // Broadcast notifications are everyone's: each test starts from an empty store.
  await redisClient.flushAll();
});

interface Body {
  title: string;
  message: string;
  category: string;
  priority: string;
  module_name?: string;
  user_id?: string;
}

/** POSTs a notification as a backend does (admin JWT); resolves with the 201 answer. */
async function notify(gw: Gateway, body: Partial<Body> & { title: string }): Promise<any> {
  const res = await fetch(urlOf(gw, '/api/v1/ws/broadcast/notification?event_type=notification_created'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken()}` },
    body: JSON.stringify({ message: `about ${body.title}`, category: 'workspace', priority: 'normal', ...body }),
  });
  const answer = await res.json();
  if (res.status !== 201) throw new Error(`notify answered ${res.status}: ${JSON.stringify(answer)}`);
  return answer;
}

const titles = (events: any[]) => events.filter((e) => e.event_type === 'notification_created').map((e) => e.notification.title);
const nativeEvents = (client: NativeClient) => client.take('notification_event');

describe('notifications', () => {
  it('reach only the sockets whose filters match, Socket.IO v4 and native seed 002 alike', async () => {
    const gw = await startGateway();
    const v4 = await connectV4(urlOf(gw), token({ sub: 'alice' }), { namespace: '/notifications' });
    const v4Events = collect(v4, 'notification_event');
    const sub = await request(v4, 'subscribe_notifications', { categories: ['system', 'workspace'], modules: ['tables', 'ai'], priorities: ['high', 'critical'] });
    expect(sub).toEqual({ ok: true, filters: { categories: ['system', 'workspace'], modules: ['tables', 'ai'], priorities: ['high', 'critical'] }, notifications: [], unread_count: 0 });

    // The seed's own client: flat frames, no ack, so the answer is the reply event.
    const native = await connectWorkspace(gw, token({ sub: 'alice' }));
    native.send({ type: 'subscribe_notifications', categories: ['tasks'] });
    expect(await native.next('notifications_subscribed')).toMatchObject({ filters: { categories: ['tasks'] }, notifications: [], unread_count: 0 });

    // Sockets that did not subscribe get nothing, even alice's own, even in the rooms named like hers.
    const silent = await connectV4(urlOf(gw), token({ sub: 'alice' }));
    const silentEvents = collect(silent, 'notification_event');
    const snoop = await connectV4(urlOf(gw), token({ sub: 'mallory' }));
    for (const room_id of ['user:alice', 'notifications:alice']) await request(snoop, 'join_room', { room_id });
    await request(snoop, 'subscribe_notifications', { categories: ['nothing-matches'] });
    const snoopEvents = collect(snoop, 'notification_event');

    const created = await notify(gw, { title: 'match', category: 'workspace', module_name: 'tables', priority: 'high', user_id: 'alice' });
    expect(created).toEqual({
      event_type: 'notification_created',
      notification: { id: expect.stringMatching(/^[0-9a-f-]{36}$/), title: 'match', message: 'about match', category: 'workspace', priority: 'high', module_name: 'tables', created_at: expect.stringMatching(/^\d{4}-/), read: false },
      user_id: 'alice',
      recipients_on_this_pod: 1,
      timestamp: expect.any(String),
    });
    await notify(gw, { title: 'wrong category', category: 'billing', module_name: 'tables', priority: 'high', user_id: 'alice' });
    await notify(gw, { title: 'wrong module', category: 'system', module_name: 'files', priority: 'critical', user_id: 'alice' });
    await notify(gw, { title: 'no module', category: 'system', priority: 'critical', user_id: 'alice' });
    await notify(gw, { title: 'wrong priority', category: 'system', module_name: 'ai', priority: 'normal', user_id: 'alice' });
    await notify(gw, { title: 'someone else', category: 'tasks', module_name: 'ai', priority: 'critical', user_id: 'bob' });
    await notify(gw, { title: 'tasks for alice', category: 'tasks', priority: 'low', user_id: 'alice' });
    const v4Last = waitFor(v4, 'notification_event', (e) => e.notification?.title === 'broadcast match');
    await notify(gw, { title: 'broadcast match', category: 'system', module_name: 'ai', priority: 'critical' });
    // The last one for each: once it is in, everything sent before it is too.
    await v4Last;
    const last = await notify(gw, { title: 'last', category: 'tasks', module_name: 'ai', priority: 'high', user_id: 'alice' });
    expect(last.recipients_on_this_pod).toBe(1);
    const nativeLast = await native.next((f) => f.type === 'notification_event' && f.notification?.title === 'last');

    expect(titles(v4Events)).toEqual(['match', 'broadcast match']);
    expect(v4Events[0]).toEqual({ event_type: 'notification_created', notification: created.notification, user_id: 'alice' });
    expect(v4Events[1].user_id).toBeNull();
    expect(titles(nativeEvents(native))).toEqual(['tasks for alice']);
    expect(nativeLast).toEqual({ type: 'notification_event', event_type: 'notification_created', notification: last.notification, user_id: 'alice' });
    expect(silentEvents).toEqual([]);
    expect(snoopEvents).toEqual([]);

    // Subscribing again replaces the filters, and answers with the unread ones that match, newest first.
    const again = await request(v4, 'subscribe_notifications', { priorities: ['critical'], limit: 1 });
    expect(again.unread_count).toBe(3);
    expect(titles(again.notifications.map((notification: unknown) => ({ event_type: 'notification_created', notification })))).toEqual(['broadcast match']);
  });

  it('reach every matching subscriber on every pod, Socket.IO v2, v4 and native, from a POST to any pod', async () => {
    const a = await startGateway({ REDIS_URL: redis.url });
    const b = await startGateway({ REDIS_URL: redis.url });
    const onA = await connectV4(urlOf(a), token({ sub: 'ann' }), { namespace: '/notifications' });
    const onB = await connectV2(urlOf(b), token({ sub: 'ben' }), { namespace: '/notifications' });
    const nativeB = await connectWorkspace(b, token({ sub: 'cat' }));
    const critical = await connectV4(urlOf(b), token({ sub: 'dan' }));
    await request(onA, 'subscribe_notifications', {});
    await request(onB, 'subscribe_notifications', { modules: ['ai'] });
    nativeB.send({ type: 'subscribe_notifications', categories: ['system'] });
    await nativeB.next('notifications_subscribed');
    await request(critical, 'subscribe_notifications', { priorities: ['critical'] });
    const events = { ann: collect(onA, 'notification_event'), ben: collect(onB, 'notification_event'), dan: collect(critical, 'notification_event') };
    // What pod A publishes reaches pod B through Redis, while 'done' below is POSTed to pod B itself:
    // nothing orders the two, so pod B's clients have A's last ones before 'done' is sent.
    const fromA = Promise.all([
      waitFor(onB, 'notification_event', (e) => e.notification.title === 'for ben only'),
      nativeB.next((f) => f.type === 'notification_event' && f.notification.title === 'maintenance'),
    ]);

    const maintenance = await notify(a, { title: 'maintenance', category: 'system', module_name: 'ai', priority: 'high' });
    expect(maintenance.recipients_on_this_pod).toBe(1); // ann; the others are on pod B
    await notify(a, { title: 'for ben only', category: 'workspace', module_name: 'ai', priority: 'critical', user_id: 'ben' });
    const [, nativeMaintenance] = await fromA;
    const done = [onA, onB, critical].map((s) => waitFor(s, 'notification_event', (e) => e.notification.title === 'done'));
    await notify(b, { title: 'done', category: 'system', module_name: 'ai', priority: 'critical' });
    await Promise.all(done);
    await nativeB.next((f) => f.type === 'notification_event' && f.notification.title === 'done');

    expect(titles(events.ann)).toEqual(['maintenance', 'done']);
    expect(titles(events.ben)).toEqual(['maintenance', 'for ben only', 'done']);
    expect(titles([nativeMaintenance, ...nativeEvents(nativeB)])).toEqual(['maintenance']);
    expect(titles(events.dan)).toEqual(['done']);
  });

  it('keep read state across two tabs on two pods: the other tab is told, and a new tab sees it read', async () => {
    const a = await startGateway({ REDIS_URL: redis.url });
    const b = await startGateway({ REDIS_URL: redis.url });
    const tab1 = await connectV4(urlOf(a), token({ sub: 'alice' }), { namespace: '/notifications' });
    const tab2 = await connectWorkspace(b, token({ sub: 'alice' }));
    await request(tab1, 'subscribe_notifications', {});
    tab2.send({ type: 'subscribe_notifications' });
    await tab2.next('notifications_subscribed');
    const tab1Events = collect(tab1, 'notification_event');
    const snoop = await connectV4(urlOf(b), token({ sub: 'mallory' }));
    await request(snoop, 'join_room', { room_id: 'notifications:alice' });
    await request(snoop, 'subscribe_notifications', { categories: ['nothing-matches'] });
    const snoopEvents = collect(snoop, 'notification_event');

    const own = await notify(a, { title: 'own', user_id: 'alice' });
    const tab1Got = waitFor(tab1, 'notification_event', (e) => e.notification?.title === 'everyone');
    const everyone = await notify(b, { title: 'everyone' });
    await tab2.next((f) => f.type === 'notification_event' && f.notification.id === everyone.notification.id);
    await tab1Got;

    expect(await request(tab1, 'notification_read', { notification_id: own.notification.id })).toEqual({ ok: true, notification_id: own.notification.id, read: true });
    expect(await tab2.next((f) => f.type === 'notification_event' && f.event_type === 'notification_read')).toEqual({
      type: 'notification_event',
      event_type: 'notification_read',
      notification_id: own.notification.id,
      user_id: 'alice',
    });
    // The broadcast one is read from the native tab this time; the Socket.IO tab is told.
    const told = waitFor(tab1, 'notification_event', (e) => e.event_type === 'notification_read');
    tab2.send({ type: 'notification_read', notification_id: everyone.notification.id });
    expect(await told).toEqual({
      event_type: 'notification_read',
      notification_id: everyone.notification.id,
      user_id: 'alice',
    });
    // Reading it again changes nothing and tells no one.
    expect((await request(tab1, 'notification_read', { notification_id: own.notification.id })).ok).toBe(true);
    const sentinel = await notify(a, { title: 'sentinel', user_id: 'alice' });
    await tab2.next((f) => f.type === 'notification_event' && f.notification?.id === sentinel.notification.id);
    expect(tab2.take((f) => f.type === 'notification_event' && f.event_type === 'notification_read')).toEqual([]);
    expect(tab1Events.filter((e) => e.event_type === 'notification_read').map((e) => e.notification_id)).toEqual([everyone.notification.id]);
    expect(snoopEvents).toEqual([]);

    // A third tab on either pod, and bob, see the read state of their own.
    const tab3 = await connectV4(urlOf(b), token({ sub: 'alice' }), { namespace: '/notifications' });
    expect((await request(tab3, 'subscribe_notifications', {})).notifications.map((n: any) => n.title)).toEqual(['sentinel']);
    const bob = await connectV4(urlOf(a), token({ sub: 'bob' }), { namespace: '/notifications' });
    expect((await request(bob, 'subscribe_notifications', {})).notifications.map((n: any) => n.title)).toEqual(['everyone']);
  });

  it('deliver the unread ones to a user who was offline, newest first, filtered and bounded', async () => {
    const gw = await startGateway();
    const first = await connectV4(urlOf(gw), token({ sub: 'alice' }), { namespace: '/notifications' });
    await request(first, 'subscribe_notifications', {});
    const seen = await notify(gw, { title: 'seen before', user_id: 'alice' });
    await request(first, 'notification_read', { notification_id: seen.notification.id });
    first.close();

    await notify(gw, { title: 'while away 1', user_id: 'alice', category: 'tasks' });
    await notify(gw, { title: 'to everyone', category: 'system' });
    await notify(gw, { title: 'while away 2', user_id: 'alice', category: 'tasks', priority: 'high' });
    await notify(gw, { title: 'not hers', user_id: 'bob', category: 'tasks' });

    const back = await connectV4(urlOf(gw), token({ sub: 'alice' }), { namespace: '/notifications' });
    const all = await request(back, 'subscribe_notifications', {});
    expect(all.notifications.map((n: any) => n.title)).toEqual(['while away 2', 'to everyone', 'while away 1']);
    expect(all.notifications.every((n: any) => n.read === false)).toBe(true);
    const tasks = await request(back, 'subscribe_notifications', { categories: ['tasks'], limit: 1 });
    expect(tasks).toMatchObject({ unread_count: 2, notifications: [{ title: 'while away 2', priority: 'high' }] });

    // A Socket.IO client without an ack callback gets the answer as the reply event.
    const reply = waitFor(back, 'notifications_subscribed');
    back.emit('subscribe_notifications', { categories: ['system'] });
    expect((await reply).notifications.map((n: any) => n.title)).toEqual(['to everyone']);
  });

  it('survive a pod restart: a new pod on the same Redis serves the same unread ones', async () => {
    const first = await startGateway({ REDIS_URL: redis.url });
    const own = await notify(first, { title: 'own', user_id: 'alice' });
    await notify(first, { title: 'everyone' });
    const read = await notify(first, { title: 'read', user_id: 'alice' });
    const tab = await connectV4(urlOf(first), token({ sub: 'alice' }), { namespace: '/notifications' });
    await request(tab, 'notification_read', { notification_id: read.notification.id });
    tab.close();
    await stopGateway(first);

    const second = await startGateway({ REDIS_URL: redis.url });
    const back = await connectV4(urlOf(second), token({ sub: 'alice' }), { namespace: '/notifications' });
    const answer = await request(back, 'subscribe_notifications', {});
    expect(answer.notifications.map((n: any) => n.title)).toEqual(['everyone', 'own']);
    expect(answer.notifications[1]).toEqual(own.notification);
    expect((await request(back, 'notification_read', { notification_id: own.notification.id })).ok).toBe(true);
  });
});
