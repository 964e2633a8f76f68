/** `http://{host}:{port}`, an IPv6 host in brackets as URLs need it. */
export const httpOrigin = (host: string, port: number): string =>
  `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
