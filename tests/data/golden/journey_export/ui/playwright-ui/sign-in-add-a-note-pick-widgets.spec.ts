import { test, expect } from '@playwright/test';
import { HomePage } from './pages/HomePage';
import { DashboardPage } from './pages/DashboardPage';
import { WidgetsPage } from './pages/WidgetsPage';
import { PASSWORD, USERNAME } from './constants';

test.describe('Sign in, add a note & pick widgets', () => {
  let homePage: HomePage;
  let dashboardPage: DashboardPage;
  let widgetsPage: WidgetsPage;

  test.beforeEach(async ({ page }) => {
    homePage = new HomePage(page);
    dashboardPage = new DashboardPage(page);
    widgetsPage = new WidgetsPage(page);
    await homePage.goto();
  });

  test('follows the recorded journey', async ({ page }) => {
    const authReq = page.waitForResponse('**/api/auth*');
    await homePage.login(USERNAME, PASSWORD);
    expect((await authReq).status(), 'POST **/api/auth*').toBe(200);

    await page.waitForURL('**/dashboard*');
    const notesReq = page.waitForResponse('**/api/notes*');
    await dashboardPage.addNoteButton.click();
    expect((await notesReq).status(), 'POST **/api/notes*').toBe(201);
    await dashboardPage.toggleDetailsButton.click();

    await page.waitForURL('**/widgets*');
    await widgetsPage.tagType.click();
    await widgetsPage.tagType2.click();
    await widgetsPage.countrySelect.selectOption({ label: 'Germany' });
    await widgetsPage.agreeField.check();
    await widgetsPage.girisYapButton.click();
    await widgetsPage.p1.click();
  });
});
