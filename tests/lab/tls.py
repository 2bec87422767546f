"""A throw-away certificate authority for the lab's HTTPS listeners (WinRM and Redfish)."""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'wsfc.rolling lab'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path, key):
    with open(path, 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _server_cert(ca_key, ca_cert, common_name, addresses, dns_names, now):
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses] + [x509.DNSName(n) for n in dns_names]
    cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def make_pki(directory, certificates):
    """Create ca.pem and, per entry of ``certificates`` (name -> (common name, addresses, DNS names)),
    <name>.pem and <name>.key in ``directory``; return {'ca': path, name: {'cert': path, 'key': path}}.

    Each machine has its own certificate naming only that machine, as a WinRM HTTPS listener's or a
    BMC's certificate does: a client that checks host names accepts it only for those names.
    """
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(_name('wsfc.rolling lab CA')).issuer_name(_name('wsfc.rolling lab CA'))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    paths = {'ca': os.path.join(directory, 'ca.pem')}
    with open(paths['ca'], 'wb') as handle:
        handle.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    for name, (common_name, addresses, dns_names) in certificates.items():
        key, cert = _server_cert(ca_key, ca_cert, common_name, addresses, dns_names, now)
        paths[name] = {'cert': os.path.join(directory, '%s.pem' % name), 'key': os.path.join(directory, '%s.key' % name)}
        with open(paths[name]['cert'], 'wb') as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(paths[name]['key'], key)
    return paths
