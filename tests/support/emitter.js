// A backend in a process of its own, publishing with the official @socket.io/redis-emitter as any
// service sharing the gateway's Redis would (README: Publishing from your backend).
// Usage: node emitter.js <redis url> '<JSON list of {namespace?, rooms?, event, payload}>'
// Publishes each in order, prints one line `published <count>` and exits 0 (1 on any failure).
// The emitter's key is its default, `socket.io`: the gateway's Redis adapter uses the same one.
const { createClient } = require('redis');
const { Emitter } = require('@socket.io/redis-emitter');

async function main() {
  const [url, spec] = process.argv.slice(2);
  const emits = JSON.parse(spec);
  const client = createClient({ url });
  client.on('error', (err) => console.error('redis error', err.message));
  await client.connect();
  const emitter = new Emitter(client);
  for (const { namespace = '/', rooms = [], event, payload } of emits) {
    let operator = emitter.of(namespace);
    for (const room of rooms) operator = operator.to(room);
    operator.emit(event, payload);
  }
  // QUIT is queued behind the PUBLISHes: once it is answered, every one of them went out.
  await client.quit();
  process.stdout.write(`published ${emits.length}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
