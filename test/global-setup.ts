// Services the whole suite shares are started here, once, on free loopback ports.
// Each area adds its own service (mosquitto, fake GigE camera, ...) in test/support/.
export default async function setup(): Promise<() => Promise<void>> {
  const teardowns: Array<() => Promise<void>> = [];
  return async () => {
    for (const t of teardowns.reverse()) await t();
  };
}
