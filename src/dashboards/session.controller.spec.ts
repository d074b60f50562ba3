import { Permission, PERMISSIONS, ROLES, roleHasPermission } from '../auth/roles';
import { sessionView } from './session.controller';

describe('GET /session view', () => {
  it.each(ROLES)('lists exactly the permissions the roles matrix gives %s', (role) => {
    const view = sessionView({ apiKeyId: 'k', role, manufacturerId: role === 'admin' ? null : 'm' });
    const expected = (Object.keys(PERMISSIONS) as Permission[]).filter((p) => roleHasPermission(role, p));
    expect(view.permissions).toEqual(expected);
    expect(view.permissions).toContain('session:read');
    expect(view.role).toBe(role);
  });

  it('says whose key it is and nothing secret', () => {
    const view = sessionView({ apiKeyId: 'key-id', role: 'quality', manufacturerId: 'tenant-1' });
    expect(Object.keys(view).sort()).toEqual(['manufacturerId', 'permissions', 'role']);
    expect(view.manufacturerId).toBe('tenant-1');
    expect(JSON.stringify(view)).not.toContain('key-id');
    expect(view.permissions).not.toContain('tenants:manage');
  });
});
