// callgate/osp: the OSP layer (ETSI TS 101 321).
export {};
