import { describe, expect, it } from 'vitest';
import { parseSshEndpoint, sshDisabledMessage } from '../../src/engine/platform/tunnel.js';

describe('parseSshEndpoint: app_ssh_endpoint is host:port, no scheme', () => {
  it.each([
    ['ssh.fr.cloud.gov:22', { host: 'ssh.fr.cloud.gov', port: 22 }],
    ['ssh.example.com:2222', { host: 'ssh.example.com', port: 2222 }],
    ['ssh.example.com', { host: 'ssh.example.com', port: 22 }],
    ['[::1]:2222', { host: '::1', port: 2222 }],
    [' 127.0.0.1:40000 ', { host: '127.0.0.1', port: 40000 }],
  ])('%s', (text, expected) => {
    expect(parseSshEndpoint(text)).toEqual(expected);
  });

  it.each(['ssh://ssh.example.com:22', 'host:0', 'host:70000', 'host:port', ''])('refuses %j', (text) => {
    expect(() => parseSshEndpoint(text)).toThrow(`The Cloud Foundry API advertises the app SSH endpoint '${text}', which is not host:port.`);
  });
});

describe('sshDisabledMessage: the fix for each reason cloud_controller_ng gives', () => {
  it('space', () => {
    const message = sshDisabledMessage('fac', 'production', 'Disabled for space production');
    expect(message).toContain('`cf allow-space-ssh production`');
    expect(message).not.toContain('enable-ssh');
    expect(message).toContain('(the API says: "Disabled for space production")');
  });
  it('app', () => {
    const message = sshDisabledMessage('fac', 'production', 'Disabled for app');
    expect(message).toContain('`cf enable-ssh fac` then `cf restart fac`');
    expect(message).not.toContain('allow-space-ssh');
  });
  it('no reason: both fixes, the space named if known', () => {
    expect(sshDisabledMessage('fac', undefined, undefined)).toBe(
      "SSH is disabled for the app 'fac' given in 'cf-tunnel-app', so Lifeboat cannot tunnel to the database through it. " +
        'Allow it with `cf allow-space-ssh <space>` and `cf enable-ssh fac` then `cf restart fac` (a space manager or developer can), ' +
        "or name another app in 'cf-tunnel-app'. See docs/cloud-gov.md.",
    );
  });
  it('globally: only operators', () => {
    const message = sshDisabledMessage('fac', 'production', 'Disabled globally');
    expect(message).toContain('disabled on this whole Cloud Foundry platform (the API says: "Disabled globally")');
    expect(message).not.toContain('cf allow-space-ssh');
  });
});
