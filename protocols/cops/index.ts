// callgate/cops: the COPS layer (RFC 2748, RFC 3084).
export {};
