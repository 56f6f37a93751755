/**
 * The shell: sign-in, the navigation, and the page the URL's fragment names. Pages for
 * features the node does not serve yet (rules, alarms) are listed only when its API
 * description has them, read once after sign-in.
 */
import { useEffect, useState } from 'preact/hooks';
import { currentSession, features, onSession, signOut } from './api.js';
import { useRoute } from './hooks.js';
import { Login } from './pages/login.js';
import { Overview } from './pages/overview.js';
import { Clients } from './pages/clients.js';
import { ClientDetail } from './pages/client-detail.js';
import { Messaging } from './pages/messaging.js';
import { Cluster } from './pages/cluster.js';
import { Access } from './pages/access.js';
import { Diagnose } from './pages/diagnose.js';
import { Integrations } from './pages/integrations.js';
import { Alarms } from './pages/alarms.js';
import { Limits } from './pages/limits.js';

interface NavItem {
  id: string;
  label: string;
  /** shown only when the node serves this path */
  needs?: string;
}

const NAV: NavItem[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'clients', label: 'Clients' },
  { id: 'messaging', label: 'Subscriptions & topics' },
  { id: 'cluster', label: 'Cluster' },
  { id: 'access', label: 'Access control' },
  { id: 'diagnose', label: 'Diagnose' },
  { id: 'integrations', label: 'Integrations' },
  { id: 'alarms', label: 'Alarms', needs: '/api/v5/alarms' },
  { id: 'limits', label: 'Limits', needs: '/api/v5/configs/force_shutdown' },
];

export function App() {
  const [session, setSession] = useState(currentSession());
  const [have, setHave] = useState<Set<string>>();
  const [menuOpen, setMenuOpen] = useState(false);
  const route = useRoute();
  useEffect(() => onSession(() => setSession(currentSession())), []);
  useEffect(() => {
    if (session) void features().then(setHave);
  }, [session?.token]);
  useEffect(() => setMenuOpen(false), [route.join('/')]);

  if (!session) return <Login />;
  const nav = NAV.filter((n) => !n.needs || have?.has(n.needs));
  const [top = 'overview', ...rest] = route;
  const page = (() => {
    switch (top) {
      case 'clients':
        return rest[0] !== undefined ? <ClientDetail clientid={rest[0]} role={session.role} /> : <Clients />;
      case 'messaging':
        return <Messaging tab={rest[0]} role={session.role} />;
      case 'cluster':
        return <Cluster role={session.role} have={have ?? new Set()} />;
      case 'access':
        return <Access tab={rest[0]} role={session.role} have={have ?? new Set()} />;
      case 'diagnose':
        return <Diagnose tab={rest[0]} role={session.role} />;
      case 'integrations':
        return <Integrations have={have ?? new Set()} />;
      case 'alarms':
        return <Alarms role={session.role} />;
      case 'limits':
        return <Limits role={session.role} />;
      default:
        return <Overview />;
    }
  })();
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <button type="button" class="menu-toggle" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          ☰ <span class="sr-only">Menu</span>
        </button>
        <a class="brand" href="#/overview">
          <img src="/favicon.svg" alt="" width={22} height={22} /> Vireo
        </a>
        <span class="who">
          {session.username} <span class="muted">({session.role})</span>
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <nav id="nav" class={menuOpen ? 'open' : ''} aria-label="Pages">
        <ul>
          {nav.map((n) => (
            <li key={n.id}>
              <a href={`#/${n.id}`} aria-current={top === n.id || (top === undefined && n.id === 'overview') ? 'page' : undefined}>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
        <p class="version muted">Vireo {session.version}</p>
      </nav>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </div>
  );
}
