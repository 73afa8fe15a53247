export const BASE_URL = process.env.BASE_URL || 'http://127.0.0.1:8080';
export const USERNAME = process.env.USERNAME || 'alice';
export const PASSWORD = process.env.PASSWORD || 'secret';
