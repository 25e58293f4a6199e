/**
 * Free TCP ports on the loopback interface, for test servers that cannot bind port 0 themselves
 * (such as a `docker-registry` child process, whose address is fixed in its config file).
 */
import { createServer } from 'node:net';

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago: listens on port 0, reads the port the
 * kernel picked and closes the socket. Another process may take the port before the caller binds it,
 * so callers must retry on "address already in use".
 */
export function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close((err) => {
        if (err) reject(err);
        else if (port === 0) reject(new Error('getFreePort: the kernel returned no port'));
        else resolve(port);
      });
    });
  });
}
