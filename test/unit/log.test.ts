import { describe, expect, it } from 'vitest';
import { loggableUrl } from '../../src/http/log.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

describe('loggableUrl', () => {
  it('redacts the token parameter, however its name is encoded', () => {
    expect(loggableUrl(`/api/notifications?token=${JWT}&maxDuration=1`)).toBe(
      '/api/notifications?token=[Redacted]&maxDuration=1',
    );
    expect(loggableUrl(`/api/notifications?%74oken=abc`)).toBe('/api/notifications?token=[Redacted]');
  });

  it('redacts any value that looks like a JWT, whatever its name (misspelt token parameters)', () => {
    for (const name of ['TOKEN', 'token[]', 'token%00', 'token+', 'access_token', 'x']) {
      const logged = loggableUrl(`/api/notifications?${name}=${JWT}`);
      expect(logged, name).not.toContain(JWT);
      expect(logged, name).toContain('=[Redacted]');
    }
  });

  it('leaves other values as they are', () => {
    expect(loggableUrl('/api/kv?prefix=config/&limit=10')).toBe('/api/kv?prefix=config%2F&limit=10');
    expect(loggableUrl('/api/kv/a.b.c')).toBe('/api/kv/a.b.c');
  });
});
