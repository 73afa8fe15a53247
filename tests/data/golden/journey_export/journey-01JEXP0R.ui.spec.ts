// ===== File: constants.ts =====
export const BASE_URL = process.env.BASE_URL || 'http://127.0.0.1:8080';

// ===== File: pages/DashboardPage.ts =====
import type { Locator, Page } from '@playwright/test';
import { BASE_URL } from '../constants';

export class DashboardPage {
  readonly page: Page;
  readonly toggleDetailsButton: Locator;

  constructor(page: Page) {
    this.page = page;
    this.toggleDetailsButton = page.getByRole('button', { name: 'Toggle details' });
  }

  async goto() {
    await this.page.goto(BASE_URL + '/dashboard');
  }
}

// ===== File: login-and-add-a-note.spec.ts =====
import { test, expect } from '@playwright/test';
import { DashboardPage } from './pages/DashboardPage';

test.describe('Login and add a note', () => {
  let dashboardPage: DashboardPage;

  test.beforeEach(async ({ page }) => {
    dashboardPage = new DashboardPage(page);
    await dashboardPage.goto();
  });

  test('follows the recorded journey', async ({ page }) => {
    const notesReq = page.waitForResponse('**/api/notes*');
    await dashboardPage.toggleDetailsButton.click();
    expect((await notesReq).status(), 'POST **/api/notes*').toBe(201);
  });
});
