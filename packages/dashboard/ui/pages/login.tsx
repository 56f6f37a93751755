/** Sign-in with a dashboard user (not an MQTT user). */
import { useState } from 'preact/hooks';
import { signIn } from '../api.js';
import { useAction } from '../hooks.js';
import { ErrorNote, Field, value } from '../ui.js';

export function Login() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const act = useAction();
  return (
    <main class="login">
      <form
        class="panel"
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(() => signIn(username, password));
        }}
      >
        <h1>
          <img src="/favicon.svg" alt="" width={28} height={28} /> Vireo
        </h1>
        <p class="muted">Sign in with a dashboard user.</p>
        <Field label="Username">
          <input name="username" autoComplete="username" required autoFocus value={username} onInput={(e) => setUsername(value(e))} />
        </Field>
        <Field label="Password">
          <input name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(value(e))} />
        </Field>
        <ErrorNote error={act.error} />
        <button type="submit" class="primary" disabled={act.busy}>
          {act.busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="muted small">
          No user yet? Set <code>dashboard.default_password</code> (<code>VIREO_DASHBOARD__DEFAULT_PASSWORD</code>) and restart, or add one with an API key: <code>POST /api/v5/users</code>.
        </p>
      </form>
    </main>
  );
}
