// callgate/sip: the SIP layer (codec, transactions, transports, proxy core).
export {};
