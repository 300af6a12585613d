// The express upstream of e2e/differential: routes as a production API
// would, with express's defaults (case-insensitive, non-strict routing), and
// reports in response headers the route it dispatched and what it saw.
// Usage: node upstream.js PORT_FILE
'use strict';
const fs = require('fs');
const express = require('express');

const app = express();

function report(route) {
  return (req, res) => {
    let users = 0, auths = 0, keys = 0;
    // rawHeaders keeps every copy and the spelling the client sent.
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i].toLowerCase().replace(/_/g, '-');
      if (name === 'x-user') users++;
      if (name === 'authorization') auths++;
      if (name === 'x-api-key') keys++;
    }
    res.set({
      'x-route': route,
      'x-seen-method': req.method,
      'x-seen-host': req.hostname || '',
      'x-seen-user': String(users),
      'x-seen-auth': String(auths),
      'x-seen-keys': String(keys),
      'content-type': 'application/json',
    });
    res.send(JSON.stringify({ route: route, secret: 'upstream-data' }));
  };
}

app.use((req, res, next) => (req.hostname === 'admin.local' ? report('vhost')(req, res) : next()));
app.all(['/admin', '/admin/*'], report('admin'));
app.get('/users/:id', report('users_get'));
app.delete('/users/:id', report('users_delete'));
app.all('/healthz', report('health'));
app.use(report('other'));

const server = app.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(process.argv[2], String(server.address().port));
});
