// Public API of callgate: roles, flow, replay. Protocol layers are exported from callgate/sip, callgate/cops, callgate/osp.
export const VERSION = "0.1.0";
